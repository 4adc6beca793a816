"""Compiled backward: one graph-level autograd node for a compiled function whose outputs need grad.

When a compiled function (typically an ``nn.Module``'s forward) returns tensors that require grad, the
compiler traces a *joint* graph: the forward, then ``autograd.grad`` of the differentiable outputs (against
cotangent inputs) with respect to the arguments that require grad and the parameters. ``split`` cuts it
into a forward graph (outputs, state write-backs, and the intermediates the backward reads) and a backward
graph (saved values + cotangents -> gradients). At run time the forward executor runs inside one
``autograd.Function`` whose backward runs the backward executor, so ``loss.backward()`` outside the
compiled function flows through compiled code.

Limits: no double backward through the node (``create_graph=True`` raises); a forward that mutates its
arguments is not supported on this path.

Example:
    >>> import ember
    >>> from ember import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    >>> fast = ember.compile(model)
    >>> x = ember.randn(3, 4)
    >>> for _ in range(2):
    ...     model.zero_grad()
    ...     fast(x).sum().backward()
    >>> tuple(model[0].weight.grad.shape), ember.compile.stats(fast)["traces"]
    ((8, 4), 1)
"""

from __future__ import annotations

from .._state import STATE
from ..autograd_function import Function
from . import opinfo
from .capture import flatten, is_tensor, run_traced, unflatten
from .ir import Graph
from .writeback import _donations, state_arrays, write_back


class JointTrace:
    """The function traced for the joint graph: ``fn`` on detached copies of the arguments, then the vjp."""

    def __init__(self, fn, targets):
        self.fn = fn
        self.params = targets  # reachable leaf tensors that require grad (parameters)
        self.cots: list = []
        self.n_out = 0
        self.diff_out: list[int] = []  # indices (among output leaves) of the differentiable outputs
        self.nondiff_out: list[int] = []
        self.diff_args: list[int] = []  # arg leaf indices that receive a gradient
        self.diff_params: list = []  # parameters that receive a gradient

    def __call__(self, *args, **kwargs):
        from .. import autograd
        from ..backend import xp_of
        from ..tensor import Tensor

        leaves: list = []
        spec = flatten((args, kwargs), leaves, is_tensor)
        copies = [t.detach().requires_grad_() if t.requires_grad else t for t in leaves]
        args, kwargs = unflatten(spec, iter(copies))
        out = self.fn(*args, **kwargs)
        out_leaves: list = []
        flatten(out, out_leaves, is_tensor)
        self.n_out = len(out_leaves)
        self.diff_out = [i for i, o in enumerate(out_leaves) if o.requires_grad]
        self.nondiff_out = [i for i, o in enumerate(out_leaves) if not o.requires_grad]
        outs = [out_leaves[i] for i in self.diff_out]
        # cotangents: fresh arrays the tracer first sees in the backward; they become graph inputs
        self.cots = [Tensor._wrap(xp_of(o._data).ones_like(o._data)) for o in outs]
        arg_t = [(i, c) for i, c in enumerate(copies) if c.requires_grad]
        targets = [c for _, c in arg_t] + list(self.params)
        grads = autograd.grad(outs, targets, self.cots, allow_unused=True) if outs and targets else []
        grads = list(grads) + [None] * (len(targets) - len(grads))
        n = len(arg_t)
        self.diff_args = [i for (i, _), g in zip(arg_t, grads[:n]) if g is not None]
        self.diff_params = [p for p, g in zip(self.params, grads[n:]) if g is not None]
        return out, [g for g in grads if g is not None]


class GradPlan:
    """How to run a joint graph: the two executables and the bookkeeping between them."""

    def __init__(self, joint: JointTrace, cap, fwd, bwd, saved_inputs, n_saved):
        self.joint, self.cap, self.fwd, self.bwd = joint, cap, fwd, bwd
        self.saved_inputs = saved_inputs  # graph input indices the backward reads
        self.n_saved = n_saved  # forward outputs (after user outputs and write-backs) the backward reads
        self.n_out = joint.n_out
        self.n_wb = sum(1 for _, has in cap.writeback if has)
        self.state_index = _state_index(cap, joint.diff_params)


def _state_index(cap, params) -> list[int]:
    out = []
    for p in params:
        for s, (kind, obj) in enumerate(cap.state):
            if kind == "tensor" and obj is p:
                out.append(s)
                break
        else:
            raise RuntimeError("ember.compile: a parameter with a gradient is not among the graph inputs")
    return out


def trace_joint(fn, args, kwargs, found, mode):
    """Trace ``fn`` forward and backward; returns (capture, joint) where ``capture.graph`` is the joint
    graph with the cotangents as its last inputs (None after a graph break)."""
    targets = [p for p in found.parameters() if p.requires_grad and p.is_floating_point()]
    seen = {id(t) for t in targets}  # by identity: `t in targets` would compare tensors elementwise
    targets += [t for t in found.tensors if t.requires_grad and t._node is None and id(t) not in seen]
    joint = JointTrace(fn, targets)
    cap = run_traced(joint, args, kwargs, mode=mode, found=found, decomposed=True)
    if cap.graph is None:
        return cap, joint
    g = cap.graph
    arrays = {id(c._data): c for c in joint.cots}
    cots = [v for v, arr in g.constants.items() if id(arr) in arrays]
    order = {id(c._data): k for k, c in enumerate(joint.cots)}
    cots.sort(key=lambda v: order[id(g.constants[v])])
    if len(cots) != len(joint.cots):  # a cotangent no op reads: the gradient does not depend on it
        present = {id(g.constants[v]) for v in cots}
        for k, c in enumerate(joint.cots):
            if id(c._data) not in present:
                cots.insert(k, g.add_constant(c._data))
    for v in cots:
        del g.constants[v]
        g.inputs.append(v)
    g.meta["n_cots"] = len(cots)
    return cap, joint


def _snapshot(found, leaves):
    """What a trace run may change that the compiled run will change again: RNG state, buffers, args."""
    from ..random import get_rng_state

    params = {id(p) for p in found.parameters()} if found is not None else set()
    tensors = [t for t in (found.state_tensors() if found is not None else []) if id(t) not in params]
    tensors += list(leaves)
    return get_rng_state(), [(t, t._data, t._data.copy()) for t in tensors]


def _restore(snap):
    from .. import backend
    from ..random import set_rng_state

    rng, saved = snap
    set_rng_state(rng)
    for t, arr, copy in saved:
        t._data = arr
        backend.xp_of(arr).copyto(arr, copy)


def _ancestors(graph: Graph, roots) -> set:
    """ids of the nodes that ``roots`` depend on."""
    seen, stack = set(), list(roots)
    while stack:
        node = graph.producer(stack.pop())
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(node.inputs)
    return seen


def split(graph: Graph, n_out: int, n_grads: int, n_cots: int):
    """Cut a joint graph (outputs: user outputs, gradients, write-backs; last ``n_cots`` inputs: cotangents)
    into (forward graph, backward graph, saved input indices, number of saved forward values).

    Forward outputs: user outputs, write-backs, then the saved intermediates. Backward inputs: the saved
    intermediates, the saved graph inputs, then the cotangents; its outputs are the gradients.
    """
    outs, grads = graph.outputs[:n_out], graph.outputs[n_out : n_out + n_grads]
    wbs = graph.outputs[n_out + n_grads :]
    primal_in = graph.inputs[: len(graph.inputs) - n_cots]
    cots = graph.inputs[len(graph.inputs) - n_cots :]
    effects = [n.outputs[0] for n in graph.nodes if n.op in opinfo.EFFECTS]  # value checks run in the forward
    fwd_ids = _ancestors(graph, outs + wbs + effects)
    bwd_ids = _ancestors(graph, grads) - fwd_ids
    fwd_nodes = [n for n in graph.nodes if id(n) in fwd_ids]
    bwd_nodes = [n for n in graph.nodes if id(n) in bwd_ids]
    if any(v in cots for n in fwd_nodes for v in n.inputs):
        raise RuntimeError("ember.compile: an output of the forward depends on a cotangent")
    made_in_bwd = {v for n in bwd_nodes for v in n.outputs}
    needed: list = []
    for v in [v for n in bwd_nodes for v in n.inputs] + list(grads):
        if v not in made_in_bwd and v not in cots and v not in needed:
            needed.append(v)
    consts = {v: graph.constants[v] for v in needed if v in graph.constants}
    saved_fwd = [v for v in needed if v not in consts and v not in primal_in]
    saved_in = [v for v in needed if v in primal_in]
    fwd = Graph(primal_in, fwd_nodes, outs + wbs + saved_fwd, _used_constants(graph, fwd_nodes, outs + wbs))
    bwd = Graph(saved_fwd + saved_in + cots, bwd_nodes, grads, consts)
    fwd.meta, bwd.meta = dict(graph.meta), {}
    index = {v: i for i, v in enumerate(primal_in)}
    return fwd, bwd, [index[v] for v in saved_in], len(saved_fwd)


def _used_constants(graph, nodes, outputs) -> dict:
    used = {v for n in nodes for v in n.inputs} | set(outputs)
    return {v: a for v, a in graph.constants.items() if v in used}


def build_plan(cap, joint, graph, device, jit) -> GradPlan:
    """Split the (possibly generalized) joint ``graph`` and build both executables."""
    from .executor import build
    from .passes.pool_relu import swap_relu_max_pool

    n_grads = len(joint.diff_args) + len(joint.diff_params)
    graph = swap_relu_max_pool(graph)  # crosses the forward/backward cut: before the split
    fwd, bwd, saved_in, n_saved = split(graph, joint.n_out, n_grads, graph.meta.get("n_cots", 0))
    fwd.meta["donate"] = {
        k - n_grads: i for k, i in _donations(cap).items() if k >= joint.n_out + n_grads
    }
    bwd.meta["device"] = fwd.meta.get("device", device)
    return GradPlan(joint, cap, build(fwd, device=device, jit=jit), build(bwd, device=device, jit=jit),
                    saved_in, n_saved)


class _GraphFunction(Function):
    """The autograd node of one compiled call: forward executor now, backward executor on backward()."""

    @staticmethod
    def forward(ctx, plan, arrays, leaves, *diff):
        from ..tensor import Tensor

        outs = plan.fwd(*arrays)
        n, w = plan.n_out, plan.n_wb
        write_back(plan.cap.writeback, outs, n, leaves)
        ctx.plan = plan
        ctx.saved = list(outs[n + w :]) + [arrays[i] for i in plan.saved_inputs]
        ctx.save_for_backward(*diff)  # version checks: a parameter changed in place before backward
        wrapped = tuple(Tensor._wrap(a) for a in outs[:n])
        ctx.mark_non_differentiable(*[wrapped[i] for i in plan.joint.nondiff_out])
        return wrapped

    @staticmethod
    def backward(ctx, *grads):
        from ..tensor import Tensor

        if STATE.grad_enabled:
            raise RuntimeError(
                "ember.compile: double backward (create_graph=True) through a compiled function is not "
                "supported; call the uncompiled module/function for higher-order gradients"
            )
        _ = ctx.saved_tensors
        plan = ctx.plan
        cots = [grads[i]._data for i in plan.joint.diff_out]
        res = plan.bwd(*ctx.saved, *cots)
        return (None, None, None) + tuple(Tensor._wrap(a) for a in res)


def run_with_grad(plan: GradPlan, leaves):
    """Run a compiled call whose outputs need grad; returns the output structure."""

    cap = plan.cap
    arrays = state_arrays(cap, leaves)
    diff = [leaves[i] for i in plan.joint.diff_args] + [cap.state[s][1] for s in plan.state_index]
    outs = _GraphFunction.apply(plan, arrays, leaves, *diff)
    outs = outs if isinstance(outs, tuple) else (outs,)
    spec = cap.out_spec[1][0]  # the joint returned (out, grads): unpack ``out``
    return unflatten(spec, iter(outs))
