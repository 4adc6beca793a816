"""Dynamic dimensions: turning a graph traced at one size into one valid for any size of some input dims.

``generalize(new, old, dims)`` takes two traces of the same function at different sizes (``new`` and
``old``) and the input dims that differ; it returns a copy of ``new`` whose dims are ``None`` wherever they
follow from those inputs, or None when the two traces are not the same program (different ops or attrs,
a size baked into an attr that cannot be written size-free, a size-dependent constant). ``why`` (a list)
receives the reason.

Shapes are carried by each op's own rule (``ember.ops``: one rule per op, dims may be None). Attrs that hold
a size the two traces disagree on are rewritten when the op has a size-free spelling: a reshape target entry
becomes -1, an expand entry that copies the input's dim becomes -1, a slice that ends at the dim's size ends
at None.
"""

from __future__ import annotations

import numpy as np

from . import opinfo
from .ir import Graph


def _index(graph: Graph) -> dict:
    return {v: i for i, v in enumerate(graph.values())}


def _src(node) -> str:
    src = node.meta.get("source")
    return f" (made at {src})" if src else ""


def same_program(new: Graph, old: Graph, why=None) -> tuple[bool, dict]:
    """Whether the graphs match node for node (ops, wiring, constants); returns (ok, attr fixes)."""
    why = [] if why is None else why
    if (
        len(new.nodes) != len(old.nodes)
        or len(new.inputs) != len(old.inputs)
        or len(new.constants) != len(old.constants)
        or len(new.outputs) != len(old.outputs)
    ):
        why.append("the traces differ in their number of nodes, inputs, constants or outputs")
        return False, {}
    ia, ib = _index(new), _index(old)
    for (va, a), (vb, b) in zip(new.constants.items(), old.constants.items()):
        if va.shape != vb.shape or va.dtype != vb.dtype or not np.array_equal(np.asarray(a), np.asarray(b)):
            users = [n for n in new.nodes if va in n.inputs]
            made = _src(users[0]) if users else ""
            why.append(f"a constant of shape {list(va.shape)} changes with the size{made}; build it from the "
                       "input (e.g. ember.arange(x.shape[1]) inside forward is a constant: pass it as an input)")
            return False, {}
    fixes = {}
    for k, (na, nb) in enumerate(zip(new.nodes, old.nodes)):
        if na.op != nb.op or [ia[v] for v in na.inputs] != [ib[v] for v in nb.inputs]:
            why.append(f"the traces run different ops at node {k} ({na.op} vs {nb.op}){_src(na)}")
            return False, {}
        if na.attrs != nb.attrs:
            fix = _FIXES.get(na.op, _no_fix)(na, nb)
            if fix is None:
                why.append(f"{na.op} holds a size that changes with the input in its attrs{_src(na)}")
                return False, {}
            fixes[k] = fix
    if [ia[v] for v in new.outputs] != [ib[v] for v in old.outputs]:
        why.append("the traces return different values")
        return False, {}
    return True, fixes


def _no_fix(na, nb):
    return None


def _one_entry(na, nb, key):
    sa, sb = tuple(na.attrs[key]), tuple(nb.attrs[key])
    if set(na.attrs) != set(nb.attrs) or any(na.attrs[k] != nb.attrs[k] for k in na.attrs if k != key):
        return None, None
    diff = [i for i, (x, y) in enumerate(zip(sa, sb)) if x != y]
    return (sa, diff) if len(sa) == len(sb) else (None, None)


def _reshape_fix(na, nb):
    """A reshape whose target differs in exactly one entry: -1 there."""
    sa, diff = _one_entry(na, nb, "shape")
    if sa is None or len(diff) != 1 or -1 in sa:
        return None
    return {"shape": tuple(-1 if i == diff[0] else d for i, d in enumerate(sa))}


def _expand_fix(na, nb):
    """Expand entries that equal the input's own size in both traces: -1 (keep the input's dim)."""
    sa, diff = _one_entry(na, nb, "shape")
    if sa is None:
        return None
    sb, lead = tuple(nb.attrs["shape"]), len(sa) - na.inputs[0].ndim
    for i in diff:
        if i < lead or na.inputs[0].shape[i - lead] != sa[i] or nb.inputs[0].shape[i - lead] != sb[i]:
            return None
    return {"shape": tuple(-1 if i in diff else d for i, d in enumerate(sa))}


def _getitem_fix(na, nb):
    """Slices that end at the dim's size in both traces: open-ended (stop None)."""
    ia, ib = na.attrs["index"], nb.attrs["index"]
    if len(ia) != len(ib) or any(k != "index" for k in set(na.attrs) | set(nb.attrs)):
        return None
    if any(e is not None and e[0] == "ellipsis" for e in ia):
        return None
    out, d = [], 0
    for ea, eb in zip(ia, ib):
        if ea != eb:
            ok = ea is not None and eb is not None and ea[0] == eb[0] == "slice" and ea[1] == eb[1] and \
                ea[3] == eb[3] and ea[3] in (None, 1) and ea[2] == na.inputs[0].shape[d] and \
                eb[2] == nb.inputs[0].shape[d]
            if not ok:
                return None
            ea = ("slice", ea[1], None, ea[3])
        out.append(ea)
        d += 0 if ea is None or ea[0] == "tensor" else 1
        if ea is not None and ea[0] == "tensor":
            return None  # positions after an index tensor depend on its rank: keep it simple
    return {"index": tuple(out)}


def _generalize_body(bn, bo):
    if bn is None or bo is None or len(bn.inputs) != len(bo.inputs):
        return None
    dims = {}
    for i, (vn, vo) in enumerate(zip(bn.inputs, bo.inputs)):
        axes = {a for a, (x, y) in enumerate(zip(vn.shape, vo.shape)) if x != y}
        if axes:
            dims[i] = axes
    return generalize(bn, bo, dims) if dims else bn


_FIXES = {"reshape": _reshape_fix, "expand": _expand_fix, "getitem": _getitem_fix}


def generalize(new: Graph, old: Graph, dims: dict, why=None) -> Graph | None:
    """``dims``: {input index: set of axes} that vary. Returns the generalized copy of ``new`` or None.

    A layer node's decomposition (``meta["body"]``) is generalized the same way; when it cannot be (a
    constant inside depends on the size), it becomes None: the node itself is dynamic, its decomposition
    is not (an exporter with a direct lowering does not need it)."""
    why = [] if why is None else why
    ok, fixes = same_program(new, old, why)
    if not ok:
        return None
    g = new.clone()[0]
    for i, axes in dims.items():
        v = g.inputs[i]
        v.shape = tuple(None if a in axes else d for a, d in enumerate(v.shape))
    for k, node in enumerate(g.nodes):
        node.attrs.update(fixes.get(k, {}))
        if "body" in node.meta:
            node.meta["body"] = _generalize_body(new.nodes[k].meta.get("body"), old.nodes[k].meta.get("body"))
        if node.op == "fused":
            why.append("a fused node: generalize graphs before fusion")
            return None
        try:
            avals = opinfo.infer_outputs(node.op, [(v.shape, v.dtype) for v in node.inputs], node.attrs)
        except (ValueError, TypeError, IndexError, RuntimeError) as exc:
            why.append(f"{node.op}: {exc}{_src(node)}")
            return None
        if avals is None or len(avals) != len(node.outputs):
            if any(None in v.shape for v in node.inputs):
                why.append(f"{node.op} has no shape rule to carry a dynamic dim{_src(node)}")
                return None
            continue
        for out, (shape, _) in zip(node.outputs, avals):
            if len(shape) != len(out.shape):
                why.append(f"{node.op} changes rank with the size{_src(node)}")
                return None
            out.shape = tuple(shape)
    # every dim that differs between the two traces must have become dynamic
    for vn, vo, vg in zip(new.values(), old.values(), g.values()):
        if len(vn.shape) != len(vo.shape) or any(
            a != b and c is not None for a, b, c in zip(vn.shape, vo.shape, vg.shape)
        ):
            why.append(f"a value of shape {list(vn.shape)} vs {list(vo.shape)} keeps a size the rules cannot "
                       "carry")
            return None
    return g
