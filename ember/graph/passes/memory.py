"""Memory planning: liveness-based reuse of preallocated buffers, in place where safe.

Every node whose output can be written into a given array (``out=``: elementwise ufuncs, matmul, float
reductions, fused kernels; see ``writes_into``) and is not a graph output gets a buffer. A buffer is free
again once every value living in it (the value and the views made from it) has had its last reader. An
elementwise node may write over an input whose buffer dies at this node when shape and dtype agree (in
place). Inputs, constants, outputs and everything aliasing an output are never planned.

The plan is written into the graph: ``node.meta["buffer"] = k`` (and ``node.meta["inplace"] = True``) and
``graph.meta["buffers"] = [(elements, dtype), ...]``; ``plan_summary(graph)`` prints it.

Example:
    >>> from ember.graph import Graph
    >>> from ember.graph.passes import plan_memory, plan_summary
    >>> g = Graph(); x = g.add_input((4, 4), "float32")
    >>> a = g.add_node("exp", [x]); b = g.add_node("neg", [a]); c = g.add_node("tanh", [b])
    >>> g.outputs.append(g.add_node("sum", [c]))
    >>> print(plan_summary(plan_memory(g)))
    %1 exp -> buf0 (16 x float32)
    %2 neg -> buf0 in place
    %3 tanh -> buf0 in place
    %4 sum -> fresh
"""

from __future__ import annotations

from .. import opinfo
from ..ir import Graph

FLOATS = ("float16", "float32", "float64")


def writes_into(graph: Graph, node) -> bool:
    """Whether the executors can compute ``node`` into a given output array."""
    out = node.outputs[0]
    if out.dtype not in FLOATS and node.op not in opinfo.COMPARE:
        return False
    if any(v.dtype not in FLOATS for v in node.inputs):
        return False
    if len({v.dtype for v in node.inputs}) > 1:
        return False
    if node.op == "fused":
        from ..kernels import jit_available

        return jit_available(graph.meta.get("device", "cpu"))
    return node.op in opinfo.UFUNC or node.op in opinfo.REDUCE_FN or node.op in ("matmul", "copy", "linear", "relu")


def _aliases(node) -> bool:
    """Whether the node's output may share memory with its inputs (views, cast to the same dtype)."""
    if node.op in opinfo.VIEWS:
        return True
    if node.op == "cast":
        return node.inputs[0].dtype == node.outputs[0].dtype
    try:
        from ..ops import REGISTRY

        prim = REGISTRY.get(node.op)
        return bool(prim is not None and prim.view)
    except ImportError:  # pragma: no cover
        return False


def _lifetimes(graph: Graph):
    """root[value] (the value owning the memory) and end[root] (index of its last reader)."""
    root, end = {}, {}
    n = len(graph.nodes)
    for i, node in enumerate(graph.nodes):
        for v in node.inputs:
            r = root.get(v, v)
            end[r] = max(end.get(r, -1), i)
        out = node.outputs[0] if len(node.outputs) == 1 else None
        if out is not None and _aliases(node) and node.inputs:
            root[out] = root.get(node.inputs[0], node.inputs[0])
    for v in graph.outputs:
        end[root.get(v, v)] = n  # escapes: never planned, never reused
    return root, end


def _inplace_candidate(graph, node, i, root, end, owner):
    if node.op not in opinfo.UFUNC and not (
        node.op == "fused" and node.attrs["body"].nodes[-1].op not in opinfo.REDUCTIONS
    ):
        return None
    out = node.outputs[0]
    for v in node.inputs:
        r = root.get(v, v)
        if r is v and end.get(r) == i and v in owner and v.shape == out.shape and v.dtype == out.dtype:
            return owner[v]
    return None


def _elementwise_writer(node) -> bool:
    return node.op in opinfo.UFUNC or (
        node.op == "fused" and node.attrs["body"].nodes[-1].op not in opinfo.REDUCTIONS
    )


def _donations(graph: Graph, root, end) -> dict:
    """{node: input index} for outputs that may be computed straight into an input's array.

    ``graph.meta["donate"] = {output index: input index}`` says that output is written back into that input
    (a parameter updated by an optimizer, say); when nothing reads the input after the node, the node writes
    there directly and the write-back has nothing left to copy.
    """
    result = {}
    index = {id(n): j for j, n in enumerate(graph.nodes)}
    for oi, ii in graph.meta.get("donate", {}).items():
        vo, vi = graph.outputs[oi], graph.inputs[ii]
        node = graph.producer(vo)
        if (
            node is None
            or len(node.outputs) != 1
            or not writes_into(graph, node)
            or graph.outputs.count(vo) != 1
            or vo.shape != vi.shape
            or vo.dtype != vi.dtype
            or None in vo.shape
            or vi in graph.outputs
            or any(root.get(v) is vo for v in graph.outputs)
        ):
            continue
        j = index[id(node)]
        last = end.get(vi, -1)
        same_node_ok = (
            _elementwise_writer(node)
            and vi in node.inputs
            and not any(root.get(v) is vi for v in node.inputs)
        )
        if last < j or (last == j and same_node_ok):
            result[id(node)] = ii
    return result


def plan_memory(graph: Graph) -> Graph:
    """Annotate the graph with a buffer plan (see the module doc); returns the graph."""
    root, end = _lifetimes(graph)
    donated = _donations(graph, root, end)
    buffers: list[list] = []  # [elements, dtype]
    free: list[int] = []
    owner: dict = {}  # root value -> buffer index
    releases: dict[int, list[int]] = {}  # node index -> buffers freed after it
    for i, node in enumerate(graph.nodes):
        node.meta.pop("buffer", None)
        node.meta.pop("inplace", None)
        node.meta.pop("donate", None)
        if id(node) in donated:
            node.meta["donate"] = donated[id(node)]
            free.extend(releases.pop(i, []))
            continue
        out = node.outputs[0] if len(node.outputs) == 1 else None
        if (
            out is not None
            and out.size is not None
            and end.get(out, -1) < len(graph.nodes)
            and writes_into(graph, node)
        ):
            k = _inplace_candidate(graph, node, i, root, end, owner)
            if k is not None:
                node.meta["inplace"] = True
                pending = releases.get(i, [])
                if k in pending:
                    pending.remove(k)
            else:
                k = _take(buffers, free, out)
            node.meta["buffer"] = k
            owner[out] = k
            last = end.get(out, i)
            releases.setdefault(max(last, i), []).append(k)
        free.extend(releases.pop(i, []))
    graph.meta["buffers"] = [tuple(b) for b in buffers]
    return graph


def _take(buffers, free, out) -> int:
    """Best fit among free buffers of the same dtype and enough elements, else a new buffer."""
    fits = [k for k in free if buffers[k][1] == out.dtype and buffers[k][0] >= out.size]
    if fits:
        k = min(fits, key=lambda k: buffers[k][0])
        free.remove(k)
        return k
    buffers.append([out.size, out.dtype])
    return len(buffers) - 1


def plan_summary(graph: Graph) -> str:
    """One line per node: its buffer, ``in place`` or ``fresh`` (unplanned)."""
    from ..printer import _Namer

    name = _Namer()
    for v in list(graph.inputs) + list(graph.constants):
        name(v)
    lines = []
    bufs = graph.meta.get("buffers", [])
    for node in graph.nodes:
        k = node.meta.get("buffer")
        label = (
            f"input %{node.meta['donate']} (donated)"
            if node.meta.get("donate") is not None
            else "fresh"
            if k is None
            else (f"buf{k} in place" if node.meta.get("inplace") else f"buf{k} ({bufs[k][0]} x {bufs[k][1]})")
        )
        lines.append(f"{name(node.outputs[0])} {node.op} -> {label}")
    return "\n".join(lines)
