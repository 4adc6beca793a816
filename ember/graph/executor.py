"""Executors: a planned graph turned into generated straight-line Python over NumPy (CPU) or CuPy (GPU).

Nodes that can write into a given array do so into the preallocated buffers of the memory plan
(``xp.add(a, b, out=buf)``, ``xp.matmul(..., out=)``, fused kernels); every other node calls its registry
forward directly, with its attrs bound once. No Tensor, autograd or dispatch work happens per call.

Example:
    >>> import numpy as np
    >>> from ember.graph import Graph
    >>> from ember.graph.executor import build
    >>> g = Graph(); x = g.add_input((2, 2), "float32")
    >>> g.outputs.append(g.add_node("sum", [g.add_node("exp", [g.add_node("neg", [x])])]))
    >>> run = build(g, jit=False)
    >>> print(run.source)
    def run(i0):
        v1 = U1(i0, out=O1)
        v2 = U2(v1, out=O2)
        v3 = ASARRAY(F3(XP, v2))
        return [v3]
    >>> float(run(np.zeros((2, 2), np.float32))[0])
    4.0
"""

from __future__ import annotations

import functools
import os
import time

import numpy as np

from .._state import STATE
from .._threads import cached_num_threads, release_lingering_hold
from ..backend import float_errors_off, float_errors_restore
from ..ops.linalg import gemm
from ..ops.nn import relu_array
from . import cores, infer_chain, kernels, loops, opinfo, rnn_rows  # noqa: F401  (their lowerings)
from .gemm_split import _HELD, OneBlasThread, gemm_size_per_row, hold_for, split_gemm
from .gemm_split import linear_kernel as _linear
from .ir import Graph, GraphError
from .passes import fuse_elementwise, optimize, plan_memory
from .passes.conv_pool import fuse_conv_pool
from .passes.pool_relu import swap_relu_max_pool
from .passes.updates import mark_updates_in_place
from .scatter_rows import rows_scatter, scatter_rows
from .verify import verify


class Executable:
    """A compiled graph: ``run(*arrays) -> list of arrays``; ``source`` is the generated code."""

    def __init__(self, graph: Graph, xp, device: str):
        self.graph, self.xp, self.device = graph, xp, device
        self.source, self._fn, self._gen = _generate(graph, xp, device)
        # an inference graph's large GEMMs: BLAS at one thread for the call (gemm_split)
        self._gemm_per_row = gemm_size_per_row(graph) if graph.meta.get("inference") and device == "cpu" else 0
        self._hold_batch = min(self._gen.split_batches, default=0)
        # a step with Winograd convolutions: OpenBLAS held at one thread for the whole call. The convolutions
        # spread their image blocks over Ember's pool with one-thread GEMMs; a threaded GEMM elsewhere in the
        # step would leave NumPy's OpenBLAS worker spinning on the pool's core (cnn training step at 2
        # threads: 14.7-15.7 steps/s without the hold, 19.3-22.7 with it; docs/internals.md)
        self._hold_all = bool(graph.meta.get("blas_hold"))
        self._timed = None  # the generated code with a clock read after each node, made when first profiled
    def __call__(self, *arrays):
        quiet = float_errors_off()  # no NumPy float warnings, as eagerly (ops.apply)
        try:
            return self._run(arrays)
        finally:
            float_errors_restore(quiet)

    def _run(self, arrays):
        if STATE.profiler is not None:
            return self._profiled_call(arrays)
        release_lingering_hold()  # an eager Winograd call's one-thread BLAS hold, once expired (cheap otherwise)
        if self._hold_all or (self._hold_batch and arrays
                              and (arrays[0].shape[0] if arrays[0].ndim else 1) <= self._hold_batch):
            from .blas_calls import Held  # (numba's: only where a Winograd conv was given its split)

            with Held():
                _HELD.append(cached_num_threads())  # split_gemm's blocks: as many as the threads BLAS had
                try:
                    return self._fn(*arrays)
                finally:
                    _HELD.pop()
        if self._gemm_per_row and arrays and hold_for(arrays[0].shape[0] if arrays[0].ndim else 1,
                                                      self._gemm_per_row):
            with OneBlasThread():
                return self._fn(*arrays)
        return self._fn(*arrays)

    def _profiled_call(self, arrays):
        """Run the timed copy of the code and hand each node's (label, start, end, shape) to the profiler."""
        if self._timed is None:
            self._timed = _timed_copy(self.graph, self._gen)
        rec, sink = STATE.profiler, []
        start = rec.clock()
        out = self._timed(sink, *arrays)
        end = rec.clock()
        labels = self._gen.labels
        rec.add_graph_call(f"compiled graph ({len(labels)} nodes)", start, end,
                           [(labels[k][0], t0, t1, labels[k][1]) for k, t0, t1 in sink])
        return out

    def __repr__(self):
        return f"<Executable on {self.device}: {len(self.graph.nodes)} nodes>"


def build(
    graph: Graph, device: str = "cpu", jit: bool | None = None, optimize_graph: bool = True, inference: bool = False
) -> Executable:
    """Optimise (fold, simplify, CSE, copies, DCE), fuse when a JIT is available, plan memory, generate code.

    ``graph`` is not modified (a clone is compiled). ``jit=None`` uses numba/CuPy kernels when available.
    ``inference``: a program's forward (``ExportedProgram``): its large GEMMs run with BLAS held at one thread,
    the largest split over the cores by Ember's pool (``gemm_split``).
    """
    g = graph.clone()[0]
    g.meta["device"] = device
    g.meta["inference"] = inference
    if jit is None:
        jit = kernels.jit_available(device)
    keep_kernel_layers(g)
    if optimize_graph:
        # verified once below; verifying after each of the six passes too cost ~6x that (EfficientNetB0's train
        # step: ~5 s of a 30 s compile), so it is opt-in: EMBER_VERIFY_PASSES=1 (the test suite sets it)
        optimize(g, fuse=False, check=bool(os.environ.get("EMBER_VERIFY_PASSES")))
    fold_relu(g)
    fold_pool(g)
    # training graphs: relu after the pool (its mask on the pooled gradient), then the pool into the
    # Winograd convolution before it
    g = fuse_conv_pool(swap_relu_max_pool(g))
    if jit:
        fuse_elementwise(g, singletons=True)
        _unfuse_unsupported(g, device)
    g.meta["jit"] = jit
    # a step with Winograd convolutions (after decomposition) or compiled LSTM loops runs with OpenBLAS held at
    # one thread (Executable._hold_all); its large GEMMs are then split over Ember's pool (split_gemm)
    g.meta["blas_hold"] = device == "cpu" and any(map(cores.holds_blas, g.nodes)) and _has_numba()
    mark_updates_in_place(g)
    plan_memory(g)
    verify(g)
    return Executable(g, _xp_for(device), device)


def keep_kernel_layers(g: Graph) -> None:
    """Layer nodes whose op has an inference kernel for their attrs (``"inference"`` lowering: conv, max_pool)
    keep it instead of their decomposition (layer nodes reach the executor only from exported programs: an
    inference graph). A node of constants only is left to decompose and fold."""
    from ..ops import REGISTRY

    for node in g.nodes:
        if "body" not in node.meta or all(v in g.constants for v in node.inputs):
            continue
        make = REGISTRY[node.op].lowering("inference")
        if make is not None and make(node) is not None:
            del node.meta["body"]
            node.meta["kernel"] = "inference"


def fold_relu(g: Graph) -> None:
    """``relu(y)`` folded into the node making ``y`` when it is relu's only reader: a ``linear`` or a kernel
    layer whose kernel applies the activation in its epilogue (in place, while the result is in cache)."""
    from ..ops import REGISTRY

    for relu in [n for n in g.nodes if n.op == "relu"]:
        y = relu.inputs[0]
        node = g.producer(y)
        if node is None or len(node.outputs) != 1 or y in g.outputs or len(g.users(y)) != 1:
            continue
        if "activation" in node.meta or y.dtype not in ("float16", "float32", "float64"):
            continue
        if node.op == "linear":
            ok = all(v.dtype == y.dtype for v in node.inputs)
        elif node.meta.get("kernel") == "inference":
            ok = "relu" in getattr(REGISTRY[node.op].lowering("inference"), "activations", ())
        else:
            ok = False
        if ok:
            node.meta["activation"] = "relu"
            g.replace_all_uses_with(relu.outputs[0], y)
            g.remove_node(relu)


def fold_pool(g: Graph) -> None:
    """A ``max_pool`` that is the only reader of a kernel layer's output (a conv, relu folded or not) becomes
    part of that node when its kernel can pool in its epilogue (``node.meta["pool"]``: the pool's attrs; the
    node's output is then the pooled map, which ``verify`` checks as conv then max_pool): the full-size map
    is never written out and read back."""
    from ..ops import REGISTRY

    for pool in [n for n in g.nodes if n.op == "max_pool" and n.meta.get("kernel") == "inference"]:
        y = pool.inputs[0]
        node = g.producer(y)
        if (node is None or len(pool.outputs) != 1 or len(node.outputs) != 1 or y in g.outputs
                or len(g.users(y)) != 1 or node.meta.get("kernel") != "inference" or "pool" in node.meta):
            continue
        can_pool = getattr(REGISTRY[node.op].lowering("inference"), "pools", None)
        if can_pool is None or not can_pool(pool.attrs, len(pool.attrs["kernel"])) \
                or node.inputs[1].ndim - 2 != len(pool.attrs["kernel"]):
            continue
        node.meta["pool"] = dict(pool.attrs)
        out = pool.outputs[0]
        g.nodes.remove(pool)  # (its output lives on as the node's)
        g._unindex(pool)
        g._unindex(node)
        node.outputs[0] = out
        g._index(node)


def _xp_for(device):
    if device == "cpu":
        return np
    from .. import backend

    return backend.require_cupy("running a graph on CUDA")


def _unfuse_unsupported(g: Graph, device) -> None:
    """Put the nodes of bodies that have no kernel form back into the graph."""
    for node in list(g.nodes):
        if node.op == "fused" and not kernels.supported(node.attrs["body"], device):
            body = node.attrs["body"]
            vmap = dict(zip(body.inputs, node.inputs))
            for v, arr in body.constants.items():
                vmap[v] = g.add_constant(arr)
            vmap[body.outputs[0]] = node.outputs[0]
            index = g.nodes.index(node)
            g.nodes.remove(node)
            g._unindex(node)
            for j, inner in enumerate(body.nodes):
                outs = [vmap.setdefault(v, v) for v in inner.outputs]
                g.insert_node(
                    type(inner)(inner.op, [vmap[v] for v in inner.inputs], inner.attrs, outs, inner.meta),
                    index + j,
                )


class _Gen:
    """Collects generated lines and the globals they refer to."""

    def __init__(self, xp, device, split=False):
        self.lines: list[str] = []
        # large passes split over Ember's pool: where splitting is on (EMBER_SPLIT=1), or in a step that holds
        # BLAS at one thread (Winograd convolutions): there OpenBLAS's workers are parked, so a helper does not
        # wait behind one spinning on its core (the reason splitting measured slower elsewhere)
        self.split = xp is np and (cores.ENABLED or split)
        self.ns: dict = {"XP": xp, "ASARRAY": xp.asarray, "COPYTO": xp.copyto}
        self.xp, self.device = xp, device
        self.names: dict = {}
        self.spans: list[int] = []  # index in ``lines`` where each node's code starts
        # per small-batch Winograd conv, the batches up to which it splits over Ember's pool (winograd_split):
        # up to the smallest, a call holds OpenBLAS at one thread, whose workers would spin on the helpers' cores
        self.split_batches: list[int] = []

    def bind(self, name, obj) -> str:
        self.ns[name] = obj
        return name


def _generate(graph: Graph, xp, device):
    gen = _Gen(xp, device, split=bool(graph.meta.get("blas_hold")))
    for i, v in enumerate(graph.inputs):
        gen.names[v] = f"i{i}"
    for i, (v, arr) in enumerate(graph.constants.items()):
        gen.names[v] = gen.bind(f"C{i}", xp.asarray(arr))
    buffers = [xp.empty(n, opinfo.np_dtype(dt)) for n, dt in graph.meta.get("buffers", [])]
    counter = len(graph.inputs) + len(graph.constants)
    runs, inner = infer_chain.chains(graph, device)  # runs of linears, each one call (at its last node)
    for node in graph.nodes:
        name = f"v{counter}"
        counter += 1
        gen.spans.append(len(gen.lines))
        if id(node) in inner or id(node) in runs:
            if id(node) in runs:
                infer_chain.lower(gen, runs[id(node)], counter - 1, name)
            gen.names[node.outputs[0]] = name
            continue
        out = None
        k = node.meta.get("buffer")
        if node.meta.get("donate") is not None:
            out = f"i{node.meta['donate']}"
        elif k is not None:
            v = node.outputs[0]
            out = gen.bind(f"O{counter - 1}", buffers[k][: v.size].reshape(v.shape))
        _lower(gen, graph, node, counter - 1, [gen.names[v] for v in node.inputs], name, out)
        gen.names[node.outputs[0]] = name
        if len(node.outputs) > 1:  # a layer op's run-time kernel returns a tuple
            for j, v in enumerate(node.outputs):
                gen.names[v] = f"{name}[{j}]"
    rets = []
    for v in graph.outputs:
        ref = gen.names[v]
        rets.append(f"{ref}.copy()" if v in graph.constants else ref)
    args = ", ".join(f"i{i}" for i in range(len(graph.inputs)))
    src = "\n".join(
        [f"def run({args}):"] + [f"    {ln}" for ln in gen.lines] + [f"    return [{', '.join(rets)}]"]
    )
    exec(compile(src, "<ember compiled graph>", "exec"), gen.ns)  # generated from the IR, no user text
    gen.rets = rets
    gen.labels = [(_node_label(n), [list(v.shape) for v in n.inputs]) for n in graph.nodes]
    return src, gen.ns["run"], gen


def _node_label(node) -> str:
    if node.op == "fused":
        return "graph::fused(" + "+".join(n.op for n in node.attrs["body"].nodes) + ")"
    return "graph::" + node.op


def _timed_copy(graph: Graph, gen: _Gen):
    """The generated function again, with ``_t = TICK(SINK, k, _t)`` after node k's lines (for the profiler)."""
    ends = gen.spans[1:] + [len(gen.lines)]
    body = ["_t = CLOCK()"]
    for k, (a, b) in enumerate(zip(gen.spans, ends)):
        body += gen.lines[a:b] + [f"_t = TICK(SINK, {k}, _t)"]
    args = "".join(f", i{i}" for i in range(len(graph.inputs)))
    src = "\n".join([f"def run(SINK{args}):"] + [f"    {ln}" for ln in body] + [f"    return [{', '.join(gen.rets)}]"])
    ns = dict(gen.ns, CLOCK=time.perf_counter_ns, TICK=_tick)
    exec(compile(src, "<ember compiled graph (timed)>", "exec"), ns)
    return ns["run"]


def _tick(sink, k, start):
    sink.append((k, start, time.perf_counter_ns()))
    return time.perf_counter_ns()


def _call(fn, args, out):
    return f"{fn}({', '.join(args)}" + (f", out={out})" if out else ")")


def _lower(gen: _Gen, graph: Graph, node, idx, args, name, out) -> None:
    op, v = node.op, node.outputs[0]
    scalar = v.ndim == 0 and out is None
    if node.meta.get("update_in_place"):  # an optimizer update into the step's own arrays (passes/updates.py)
        from ..ops import REGISTRY

        fn = gen.bind(f"W{idx}", functools.partial(REGISTRY[op].update, gen.xp, **node.attrs))
        gen.lines.append(f"{fn}({', '.join(args)}); {name} = None")
        return
    if node.meta.get("state_of") is not None:  # a state of such an update: the input it was written into
        gen.lines.append(f"{name} = i{node.meta['state_of']}")
        return
    if op == "fused":
        _lower_fused(gen, node, idx, args, name, out)
        return
    if node.meta.get("kernel") == "inference":  # a layer node's inference kernel (keep_kernel_layers)
        kernel = inference_kernel(node, gen.device, bool(graph.meta.get("jit")))
        if hasattr(kernel, "split_batch") and None not in node.inputs[0].shape[1:]:  # (a Winograd conv)
            gen.split_batches.append(kernel.split_batch(node.inputs[0].shape[1:]))
        fn = gen.bind(f"F{idx}", kernel)
        gen.lines.append(f"{name} = {fn}(XP{''.join(', ' + a for a in args)})")
        return
    if opinfo.is_layer(op):  # kept by the decomposition pass: its run-time kernel (a dynamic sequence length)
        gen.lines.append(f"{name} = {gen.bind(f'F{idx}', layer_kernel(node))}(XP{''.join(', ' + a for a in args)})")
        return
    if out is not None and op in opinfo.UFUNC:
        ufunc = getattr(gen.xp, opinfo.UFUNC[op])
        if gen.split and node.outputs[0].size is not None and node.outputs[0].size >= cores.SPLIT_MIN:
            ufunc = cores.split_ufunc(ufunc)
        gen.lines.append(f"{name} = " + _call(gen.bind(f"U{idx}", ufunc), args, out))
    elif out is not None and op in opinfo.REDUCE_FN and node.inputs[0].dtype != "bfloat16":
        # (bfloat16 goes to the primitive's forward, which accumulates in float32 as eager does)
        fn = gen.bind(f"R{idx}", getattr(gen.xp, opinfo.REDUCE_FN[op]))
        gen.lines.append(
            f"{name} = {fn}({args[0]}, axis={node.attrs.get('axis')!r}, "
            f"keepdims={node.attrs.get('keepdims', False)!r}, out={out})"
        )
    elif op == "matmul":
        fn = _matmul(gen.xp, split=bool(graph.meta.get("blas_hold")))
        gen.lines.append(f"{name} = " + _call(gen.bind(f"M{idx}", fn), args, out))
    elif op == "index_put" and rows_scatter(graph, node):
        rows = node.inputs[0].shape[0]
        fn = scatter_rows(gen.xp, rows, jit=bool(graph.meta.get("jit")))
        gen.lines.append(f"{name} = {gen.bind(f'E{idx}', fn)}({args[1]}, {args[2]})")
    elif gen.device == "cpu" and graph.meta.get("jit") and (loop := loops.lowering(node)) is not None:
        gen.lines.append(f"{name} = {gen.bind(f'J{idx}', loop)}({', '.join(args)})")
    elif op == "linear":
        relu = node.meta.get("activation") == "relu"
        split = bool(graph.meta.get("inference") or graph.meta.get("blas_hold"))
        fn = _linear(gen.xp, relu, split)
        if split and graph.meta.get("jit") and gen.device == "cpu":  # small batches: infer_linear's row loop
            from .infer_linear import small_linear

            fn = small_linear(relu, fallback=fn)
        gen.lines.append(f"{name} = " + _call(gen.bind(f"L{idx}", fn), args, out))
    elif out is not None and op == "relu":
        xp = gen.xp
        fn = gen.bind(f"U{idx}", lambda x, out=None: relu_array(xp, x, out))
        gen.lines.append(f"{name} = " + _call(fn, args, out))
    elif out is not None and op == "copy":
        gen.lines.append(f"COPYTO({out}, {args[0]}); {name} = {out}")
    else:
        call = f"{gen.bind(f'F{idx}', _forward(node, gen.device))}(XP{''.join(', ' + a for a in args)})"
        gen.lines.append(
            f"{name} = ASARRAY({call})" if scalar or opinfo.REDUCE_FN.get(op) else f"{name} = {call}"
        )


def inference_kernel(node, device="cpu", jit=False):
    """The inference kernel of a layer node kept by ``keep_kernel_layers`` (``fn(xp, *arrays)`` -> its output),
    given the executor's helpers: the split GEMM on CPU, ``infer_loops``' compiled loops with numba."""
    from ..ops import REGISTRY

    def helpers(name):
        if name == "gemm":
            return split_gemm(gemm) if device == "cpu" else None
        if jit and device == "cpu" and name == "winograd_split":
            from .winograd_split import planner

            return planner()
        if jit and device == "cpu":
            from .infer_loops import loop

            return loop(name)
        return None

    return REGISTRY[node.op].lowering("inference")(node, helpers)


def layer_kernel(node):
    """The run-time kernel of a layer node that has no decomposition (``fn(xp, *arrays)`` -> its outputs),
    attrs bound: the RNN layers' loop over however many steps the input has."""
    from ..ops import REGISTRY

    if node.meta.get("kernel") == "inference":
        return inference_kernel(node)
    fn = REGISTRY[node.op].lowering("executor")
    if fn is None:
        raise GraphError(f"layer node {node.op} (made at {node.meta.get('source', '?')}) has neither a "
                         "decomposition nor a run-time kernel")
    return functools.partial(fn, **node.attrs)


def _has_numba() -> bool:
    """Whether ``blas_calls`` (numba's intrinsics) can load: the BLAS holds below use it."""
    try:
        from . import blas_calls  # noqa: F401
    except ImportError:
        return False
    return True


SMALL_GEMM = 1 << 18  # m*n*k at or below which OpenBLAS runs a GEMM on one thread (its own threshold)


def _matmul(xp, split=False):
    if split:  # BLAS held at one thread for the call: large 2-D GEMMs over Ember's pool (split_gemm)
        mm = split_gemm(gemm)
        return lambda a, b, out=None: mm(xp, a, b, out)
    if xp is not np or not cores.ENABLED:  # splitting off: no per-call layout checks (they cost ~5-10 us)
        return lambda a, b, out=None: gemm(xp, a, b, out)

    def matmul(a, b, out=None):
        """A stack of small GEMMs (attention's heads) split over the cores along the leading axis: OpenBLAS
        runs each small GEMM on the calling thread, so without this a second core idles through them."""
        if (out is not None and a.ndim == b.ndim == out.ndim >= 3 and out.flags.c_contiguous
                and not np.may_share_memory(a, out) and not np.may_share_memory(b, out)
                and a.shape[0] == b.shape[0] == out.shape[0] > 1
                and out.shape[-2] * out.shape[-1] * a.shape[-1] <= SMALL_GEMM):
            per = out.size // out.shape[0] * max(1, a.shape[-1] // 8)  # ~elementwise-pass cost of one slab
            cores.run_chunks(lambda s, e: gemm(xp, a[s:e], b[s:e], out[s:e]), out.shape[0], unit=per)
            return out
        return gemm(xp, a, b, out)

    return matmul


def _forward(node, device):
    from ..ops import REGISTRY

    attrs = dict(node.attrs)
    if node.op in opinfo.RANDOM and device != "cpu":
        attrs.setdefault("device", device)
    fwd = REGISTRY[node.op].forward
    return functools.partial(fwd, **attrs) if attrs else fwd


def _aliases(gen: _Gen, args, out) -> bool:
    """Whether the planned output buffer ``out`` may share memory with one of the operands ``args``."""
    if out is None:
        return False
    buf = gen.ns.get(out)
    if buf is None:  # a donated graph input
        return True
    for a in args:
        other = gen.ns.get("O" + a[1:]) if a.startswith("v") else gen.ns.get(a)
        if other is not None and hasattr(other, "shape") and np.may_share_memory(other, buf):
            return True
    return False


MAX_EXPANDED = 2  # broadcast operands copied out to full size so a float32 exp body runs its SIMD form


def _expand_broadcast_operands(gen: _Gen, node, idx, args, ew_shape):
    """``args`` with each broadcast operand replaced by a full-size copy (made by one COPYTO line), or None
    when there are too many. The softmax's ``exp(x - max)`` with a (..., 1) max: the copy plus the
    vectorized exp measured 2.4x faster than libm's expf in the ufunc's broadcasting loop."""
    small = [i for i, v in enumerate(node.inputs) if tuple(v.shape) != tuple(ew_shape)]
    if len(small) > MAX_EXPANDED:
        return None
    args = list(args)
    for i in small:
        buf = gen.bind(f"B{idx}_{i}", gen.xp.empty(ew_shape, opinfo.np_dtype(node.inputs[i].dtype)))
        gen.lines.append(f"COPYTO({buf}, {args[i]})")
        args[i] = buf
    return args


def _lower_fused(gen: _Gen, node, idx, args, name, out) -> None:
    body = node.attrs["body"]
    kernel = kernels.get_kernel(body, "cpu" if gen.device == "cpu" else "cuda")
    _, red = kernels.split_reduction(body)
    ew_shape = red.inputs[0].shape if red is not None else node.outputs[0].shape
    size = None if None in ew_shape else int(np.prod(ew_shape, dtype=np.int64))
    cuda = gen.device != "cpu"
    scratch = False
    if not cuda and _block_loop_pays(gen, node, red, ew_shape, size, args, out):
        _lower_block_loop(gen, node, idx, args, name, out, kernel)
        return
    if cuda:
        k = gen.bind(f"K{idx}", kernel.ufunc(size))
    else:
        # the SIMD form only pays when LLVM's vectorized loop runs: operands of the output's shape, and an
        # output that does not alias an operand (an in-place call takes the scalar fallback loop, slower
        # than libm there), so an in-place one writes a scratch buffer and copies it (~3x faster still)
        simd = size is not None and getattr(kernel, "_simd", None) is not None
        if simd and any(tuple(v.shape) != tuple(ew_shape) for v in node.inputs):
            expanded = _expand_broadcast_operands(gen, node, idx, args, ew_shape)
            simd, args = expanded is not None, expanded or args
        scratch = simd and red is None and _aliases(gen, args, out)
        ufunc = kernel.ufunc(size, contiguous=simd)
        # split at run time if the layouts allow; with splitting off, the ufunc itself (the wrapper's layout
        # checks cost ~10 us a call)
        split = gen.split and size is not None and size >= cores.SPLIT_MIN
        k = gen.bind(f"K{idx}", cores.split_ufunc(ufunc) if split else ufunc)
    if scratch:
        tmp = gen.bind(f"S{idx}", gen.xp.empty(ew_shape, opinfo.np_dtype(kernel.out_dtype)))
        gen.lines.append(f"{_call(k, args, tmp)}; COPYTO({out}, {tmp}); {name} = {out}")
        return
    target = (
        out
        if red is None
        else (
            gen.bind(f"S{idx}", gen.xp.empty(ew_shape, opinfo.np_dtype(kernel.out_dtype)))
            if size is not None
            else None
        )
    )
    if cuda:
        call = f"{k}({', '.join(args + ([target] if target else []))})"
    else:
        call = _call(k, args, target)
    if red is None:
        gen.lines.append(f"{name} = {call}" if out or node.outputs[0].ndim else f"{name} = ASARRAY({call})")
        return
    fn = gen.bind(f"R{idx}", getattr(gen.xp, opinfo.REDUCE_FN[red.op]))
    tail = f", out={out})" if out else ")"
    reduce = (
        f"{fn}({call}, axis={red.attrs.get('axis')!r}, keepdims={red.attrs.get('keepdims', False)!r}{tail}"
    )
    gen.lines.append(f"{name} = {reduce}" if out else f"{name} = ASARRAY({reduce})")


# elements; below these a direct ufunc call's lower overhead wins. A body with 0-d operands takes the
# ufunc's scalar loop (~3 ns an element against ~0.5 in the block loop), so the loop pays from far smaller
# sizes: seed_linear's Adam update of a 7,840-element weight took 25.8 us as a ufunc, 12.8 as a loop
BLOCK_LOOP_MIN = 1 << 14
BLOCK_LOOP_MIN_SCALARS = 1 << 11


def _block_loop_pays(gen, node, red, ew_shape, size, args, out) -> bool:
    """A large output whose body reads 0-d operands (optimizer updates, scaled residuals) or writes over an
    operand (in-place updates): a ufunc takes its scalar loop for both (measured 5x slower than the block
    loop on the cnn's Adam update; 1.5x for an in-place moment update)."""
    if red is not None or out is None or size is None or size < BLOCK_LOOP_MIN_SCALARS:
        return False
    shapes = [tuple(v.shape) for v in node.inputs]
    if not all(s in ((), tuple(ew_shape)) for s in shapes):
        return False
    if any(s == () for s in shapes):
        return True
    return size >= BLOCK_LOOP_MIN and _aliases(gen, args, out)


def _lower_block_loop(gen: _Gen, node, idx, args, name, out, kernel) -> None:
    scalars = [v.ndim == 0 for v in node.inputs]
    loop = kernel.block_loop(scalars)
    ufunc = kernel.ufunc(None)

    split = gen.split

    def run(*arrays, out):
        flat = [a[()] if sc else a.reshape(-1) for a, sc in zip(arrays, scalars)]
        if out.flags.c_contiguous and all(sc or a.flags.c_contiguous for a, sc in zip(arrays, scalars)):
            dst = out.reshape(-1)
            if not split:  # one call on this thread, without the chunk closure
                loop(dst, *flat)
                return out
            cores.run_chunks(lambda s, e: loop(dst[s:e], *[a if sc else a[s:e] for a, sc in zip(flat, scalars)]),
                             dst.size, kernels.LOOP_BLOCK)
            return out
        return ufunc(*arrays, out=out)  # a strided view: the ufunc handles any layout

    gen.lines.append(f"{name} = " + _call(gen.bind(f"K{idx}", run), args, out))
