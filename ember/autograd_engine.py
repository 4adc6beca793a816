"""The backward walk: reverse topological order over recorded Nodes, summing gradients per node."""
from __future__ import annotations

from ._state import STATE
from .errors import format_site, mark, with_user_line

creation = None  # installed by ember/_wiring.py (pieces of higher layers)

Node = Tensor = None  # bound on first use (circular imports)
CURRENT: list = []  # the node order of each backward in progress (autograd.graph.register_multi_grad_hook)


def _bind():
    global Node, Tensor
    from .autograd import Node
    from .tensor import Tensor


def _topo_order(roots, targets=None):
    """Nodes reachable from ``roots`` in reverse-topological order (outputs first).

    With ``targets`` (a set of ids of Nodes/leaf tensors wanted by ``grad``), nodes that cannot reach a
    target are pruned so their vjps never run.
    """
    order, state, needed = [], {}, {}
    for root in roots:
        if root is None or id(root) in state:
            continue
        stack = [(root, iter(root.edges))]
        state[id(root)] = 1
        while stack:
            node, it = stack[-1]
            for e in it:
                if e.__class__ is Node and id(e) not in state:
                    state[id(e)] = 1
                    stack.append((e, iter(e.edges)))
                    break
            else:
                stack.pop()
                if targets is not None:
                    needed[id(node)] = id(node) in targets or any(
                        e is not None and (id(e) in targets or needed.get(id(e), False)) for e in node.edges)
                order.append(node)
    order.reverse()
    if targets is not None:
        order = [n for n in order if needed[id(n)]]
    return order


def _check_versions(node):
    for vc, value, i in node.versions:
        if vc.value == value:
            continue
        what = f"the output of {node.op.name}" if i < 0 else f"input {i} of {node.op.name}"
        t = node.inputs[i] if i >= 0 else None
        desc = "" if t is None else f" (shape {tuple(t.shape)}, {t.dtype.name})"
        raise mark(RuntimeError(
            f"one of the tensors needed for gradient computation was modified by an in-place operation: "
            f"{what}{desc}, saved at {format_site(node.site)}, is at version {vc.value} but version {value} "
            f"was saved. It was changed by {vc.last_op or 'an in-place op'} at {format_site(vc.last_site)}. "
            f"Use an out-of-place op (e.g. x = x * 2 instead of x.mul_(2)) or .clone() the tensor first."))


def _freed_error(node):
    return mark(RuntimeError(
        f"Trying to backward through the graph a second time: the saved values of {node.display_name()} "
        f"(from {format_site(node.site)}) were freed by the first backward(). Pass retain_graph=True to the "
        f"first backward() if you really need two passes; if you keep a running total across steps "
        f"(e.g. total_loss += loss), add loss.detach() or loss.item() instead."))


def _out_tensor(node, create_graph):
    if node.out is None:
        return None
    out = Tensor._wrap(node.out)
    if create_graph:  # reconnect the saved output to its node, so grads of grads flow through it
        out._node, out.requires_grad = node, True
    return out


def _run_hooks(hooks, g):
    for hook in hooks:
        r = hook(g)
        if r is not None:
            g = r
    return g


def _unpacked(node, inputs, out, create_graph):
    """The saved values of a node recorded under ``saved_tensors_hooks``, through its unpack hook."""
    unpack, saved = node.packed
    inputs = list(inputs)
    for i, packed in saved.items():
        t = Tensor._wrap(unpack(packed)._data)  # the unpacked data with the saved tensor's place in the graph
        edge = node if i < 0 else node.edges[i]
        if edge is not None:
            t.requires_grad = True  # vjps read requires_grad to skip the gradients nobody wants
            if create_graph:
                t._node = edge if edge.__class__ is Node else _leaf_alias(edge)
        if i < 0:
            out = t
        else:
            inputs[i] = t
    return inputs, out


def _leaf_alias(leaf):
    """A reshape node from ``leaf`` to itself: grads of grads through an unpacked leaf reach the leaf."""
    from .ops._core import REGISTRY

    return Node(REGISTRY["reshape"], {"shape": tuple(leaf.shape)}, (leaf,), (leaf,), None, (), None)


def _run_node_post_hooks(node, grads, g):
    """``Node.register_hook`` hooks: ``hook(grad_inputs, grad_outputs)``, which may replace grad_inputs."""
    grads = tuple(grads)
    outs = tuple(g.items) if g.__class__.__name__ == "_GradTuple" else (g,)
    for hook in list(node.post_hooks):
        res = hook(grads, outs)
        if res is not None:
            grads = tuple(res)
    return grads


def _run_leaf_hooks(leaf, g, create_graph):
    """A leaf's tensor hooks; a gradient a hook has seen (and may keep) is not adopted as ``.grad``, which
    later backwards add into in place (PyTorch copies it too)."""
    g = _run_hooks(leaf._hooks, g)
    return g if create_graph else g.clone()


def _accumulate(buf, key, g):
    prev = buf.get(key)
    buf[key] = g if prev is None else prev + g


def _check_grad_finite(node, grads):
    from . import backend

    for g in grads:
        if g is not None and g._data.dtype.kind in "fV":
            if not bool(backend.xp_of(g._data).isfinite(g._data).all()):
                raise mark(RuntimeError(
                    f"anomaly detected: the backward of {node.op.name!r} produced NaN or Inf; its forward ran "
                    f"at {format_site(node.site)}"))


def _vjp_checked(node, g, out, inputs):
    """The vjp in anomaly mode: its own ops are not reported as forward anomalies; its results are checked."""
    STATE.anomaly = False
    try:
        grads = node.op.vjp(g, out, *inputs, **node.attrs)
    finally:
        STATE.anomaly = True
    _check_grad_finite(node, grads)
    return grads


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None):
    """Propagate ``root_grads`` from ``roots``; returns {id(target): grad} when ``inputs`` are given."""
    if Node is None:
        _bind()
    targets = None if inputs is None else {id(t._node if t._node is not None else t) for t in inputs}
    node_grads, leaf_grads, leaves = {}, {}, {}
    start = []
    for t, g in zip(roots, root_grads):
        if t._node is not None:
            _accumulate(node_grads, id(t._node), g)
            start.append(t._node)
        elif t.requires_grad:  # backward() on a leaf: never adopt the caller's gradient buffer as .grad
            _accumulate(leaf_grads, id(t), g if create_graph else g.clone())
            leaves[id(t)] = t
    captured = {}
    prev_mode, prev_autocast = STATE.grad_enabled, STATE.autocast
    STATE.grad_enabled = bool(create_graph)
    STATE.autocast = None  # backward runs in the dtypes autocast chose for the forward (PyTorch's rule)
    order = _topo_order(start, targets)
    uses = _hooked_leaf_uses(order) if targets is None and POST_HOOKS.registered else None
    node_cls, pop, get = Node, node_grads.pop, node_grads.get
    CURRENT.append(order)
    try:
        for node in order:
            g = pop(id(node), None)
            if g is None:
                continue
            if node.hooks:
                g = _run_hooks(node.hooks, g)
            if targets is not None and id(node) in targets:
                captured[id(node)] = g
            inputs = node.inputs
            if inputs is None:
                raise _freed_error(node)
            if node.versions:
                _check_versions(node)
            out = None if node.out is None else _out_tensor(node, create_graph)
            if node.packed is not None:
                inputs, out = _unpacked(node, inputs, out, create_graph)
            if STATE.anomaly:
                grads = _vjp_checked(node, g, out, inputs)
            else:
                grads = node.op.vjp(g, out, *inputs, **node.attrs)
            if node.post_hooks:
                grads = _run_node_post_hooks(node, grads, g)
            # the per-edge sums inline (this loop runs once per recorded op: measured per op on tiny tensors)
            for edge, gi in zip(node.edges, grads):
                if edge is None or gi is None:
                    continue
                if edge.__class__ is node_cls:
                    key = id(edge)
                    prev = get(key)
                    node_grads[key] = gi if prev is None else prev + gi
                else:
                    _accumulate(leaf_grads, id(edge), gi)
                    leaves[id(edge)] = edge
            if uses:
                _finish_ready_leaves(node, uses, leaf_grads, create_graph)
            if not retain_graph:
                node.inputs = node.out = node.packed = None
    finally:
        STATE.grad_enabled, STATE.autocast = prev_mode, prev_autocast
    try:
        _finish_leaves(leaf_grads, leaves, targets, captured, create_graph)
    finally:
        CURRENT.pop()
    return captured


def _finish_leaves(leaf_grads, leaves, targets, captured, create_graph):
    for key, g in leaf_grads.items():
        leaf = leaves[key]
        if leaf._hooks:
            g = _run_leaf_hooks(leaf, g, create_graph)
        if targets is not None:
            if key in targets:
                captured[key] = g
            continue
        _accumulate_into_leaf(leaf, g, create_graph)
        _run_post_accumulate_hooks(leaf)


class POST_HOOKS:  # noqa: N801  (a flag: set once any Tensor.register_post_accumulate_grad_hook ran)
    registered = False


def _hooked_leaf_uses(order):
    """{id(leaf): edges into it} for leaves with post-accumulate-grad hooks: when the last of those edges has
    been walked, the leaf's gradient is final and is accumulated at once, so its hooks (e.g. DDP's bucketed
    all-reduce) overlap with the rest of backward."""
    uses = {}
    for node in order:
        for e in node.edges:
            if e is not None and e.__class__ is not Node and e.__dict__.get("_post_acc_hooks"):
                uses[id(e)] = uses.get(id(e), 0) + 1
    return uses


def _finish_ready_leaves(node, uses, leaf_grads, create_graph):
    for e in node.edges:
        n = uses.get(id(e))
        if n is None:
            continue
        if n > 1:
            uses[id(e)] = n - 1
            continue
        del uses[id(e)]
        g = leaf_grads.pop(id(e), None)
        if g is not None:
            if e._hooks:
                g = _run_leaf_hooks(e, g, create_graph)
            _accumulate_into_leaf(e, g, create_graph)
            _run_post_accumulate_hooks(e)


def _run_post_accumulate_hooks(leaf):
    hooks = leaf.__dict__.get("_post_acc_hooks")
    if hooks:
        for hook in list(hooks):
            hook(leaf)


def _accumulate_into_leaf(leaf, g, create_graph):
    if not create_graph:
        g = g.detach()
    if g.shape != leaf.shape:
        g = g.expand(leaf.shape) if g.dim() <= leaf.dim() else g.reshape(leaf.shape)
    if leaf.grad is None:
        data = g._data
        read_only = not getattr(data.flags, "writeable", True)  # CuPy's flags have no writeable
        if not create_graph and (data.base is not None or read_only or data is leaf._data):
            # own a writable buffer: accumulation, zero_() and optimizers update .grad in place, and a vjp may
            # hand back a read-only broadcast view or a view of someone else's array. clone() (not an array
            # copy) so that a graph tracer records it.
            g = g.clone()
        leaf.grad = g
    elif create_graph:
        leaf.grad = leaf.grad + g
    else:  # in place without recording (versioned; a graph tracer sees it), as PyTorch accumulates
        prev, STATE.grad_enabled = STATE.grad_enabled, False
        try:
            leaf.grad.add_(g)
        finally:
            STATE.grad_enabled = prev


def _default_grads(outputs, grad_outputs, fn_name):
    if Node is None:
        _bind()
    result = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not t.requires_grad:
            raise mark(with_user_line(RuntimeError(
                f"{fn_name}: element {i} of the outputs does not require grad and has no grad_fn. "
                "Did you compute it under no_grad(), detach() it, or forget requires_grad=True on the inputs?"),
                4))
        if g is None:
            if t._data.size != 1:
                raise mark(with_user_line(RuntimeError(
                    f"{fn_name}: grad can be implicitly created only for scalar outputs, but output {i} has "
                    f"shape {tuple(t.shape)}. Pass gradient=ember.ones_like(out) (or reduce it, e.g. "
                    "out.sum().backward())."), 4))
            if t._data.dtype.kind == "c":
                raise mark(with_user_line(RuntimeError(
                    f"{fn_name}: grad can be implicitly created only for real scalar outputs, but output {i} is "
                    f"{t.dtype.name}. Differentiate a real loss (e.g. out.abs() or out.real), or pass gradient="), 4))
            g = Tensor._wrap(creation.backend.xp_of(t._data).ones_like(t._data))
        elif not hasattr(g, "_data"):
            g = creation.tensor(g, dtype=t.dtype, device=t.device)
        elif tuple(g.shape) != tuple(t.shape):
            raise mark(with_user_line(RuntimeError(
                f"{fn_name}: gradient for output {i} has shape {tuple(g.shape)} but the output has shape "
                f"{tuple(t.shape)}"), 4))
        result.append(g)
    return result


def _as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaves) into each leaf's ``.grad`` (``ember.autograd.backward``)."""
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors) or [None] * len(tensors)
    grads = _default_grads(tensors, grads, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_list(inputs)
        got = run_backward(tensors, grads, retain_graph, create_graph, inputs)
        for t in inputs:
            g = got.get(id(t._node if t._node is not None else t))
            if g is not None:
                _accumulate_into_leaf(t, g, create_graph)
                _run_post_accumulate_hooks(t)
        return
    run_backward(tensors, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated into .grad).

    >>> import ember
    >>> x = ember.tensor(3.0, requires_grad=True)
    >>> (dx,) = ember.autograd.grad(x ** 3, x, create_graph=True)
    >>> ember.autograd.grad(dx, x)[0]   # d2/dx2 x^3 = 6x
    tensor(18.)
    """
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    single = not isinstance(inputs, (list, tuple))
    gouts = _as_list(grad_outputs) or [None] * len(outs)
    gouts = _default_grads(outs, gouts, "grad")
    for i, t in enumerate(ins):
        if not t.requires_grad:
            raise mark(with_user_line(RuntimeError(
                f"grad: input {i} (shape {tuple(t.shape)}) does not require grad; set requires_grad=True on it"),
                2))
    if retain_graph is None:
        retain_graph = create_graph
    got = run_backward(outs, gouts, retain_graph, create_graph, ins)
    result = []
    for i, t in enumerate(ins):
        g = got.get(id(t._node if t._node is not None else t))
        if g is None and not (allow_unused or materialize_grads):
            raise mark(with_user_line(RuntimeError(
                f"grad: input {i} (shape {tuple(t.shape)}) was not used to compute the outputs. "
                "Pass allow_unused=True if this is expected."), 2))
        if g is None and materialize_grads:
            g = creation.zeros_like(t)
        elif g is not None and not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result) if not single else (result[0],)
