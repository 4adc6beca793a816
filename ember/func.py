"""``torch.func``: function transforms (``grad``, ``grad_and_value``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``,
``hessian``, ``vmap``) and ``functional_call``, on Ember's tape-based autograd.

The transforms are eager: ``grad(f)(x)`` runs ``f`` once with ``x`` recorded and asks autograd for the
gradient (with ``create_graph`` so transforms nest: ``grad(grad(f))``); ``vmap(f)(xs)`` runs ``f`` once per
example and stacks the results. Same results as PyTorch's, computed the straightforward way. Arguments may
be tensors or (nested) tuples, lists and dicts of them.

>>> import ember
>>> from ember.func import grad, vmap
>>> grad(lambda x: (x ** 3).sum())(ember.tensor([1.0, 2.0]))
tensor([ 3., 12.])
>>> vmap(lambda v: v.dot(v))(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
tensor([ 5., 25.])
"""
from __future__ import annotations

from .autograd import enable_grad
from .autograd_engine import grad as _autograd_grad
from .errors import mark, with_user_line
from .tensor import Tensor

stack = None  # installed by ember/_wiring.py (pieces of higher layers)

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap", "functional_call",
           "linearize", "cond"]


# -- pytrees (tuples, lists, dicts of tensors) ---------------------------------------------------------------
def tree_flatten(obj):
    """``(leaves, spec)``: the tensors (and other leaves) of nested tuples/lists/dicts, and how to rebuild it."""
    if isinstance(obj, (tuple, list)):
        leaves, specs = [], []
        for item in obj:
            sub, spec = tree_flatten(item)
            leaves += sub
            specs.append((len(sub), spec))
        return leaves, (type(obj), specs)
    if isinstance(obj, dict):
        leaves, specs = [], []
        for k, v in obj.items():
            sub, spec = tree_flatten(v)
            leaves += sub
            specs.append((k, len(sub), spec))
        return leaves, (dict, specs)
    return [obj], None


def tree_unflatten(leaves, spec):
    if spec is None:
        return leaves[0]
    kind, specs = spec
    out, i = [], 0
    if kind is dict:
        d = {}
        for k, n, sub in specs:
            d[k] = tree_unflatten(leaves[i:i + n], sub)
            i += n
        return d
    for n, sub in specs:
        out.append(tree_unflatten(leaves[i:i + n], sub))
        i += n
    return tuple(out) if kind is tuple else kind(out) if kind is not list else out


def _err(kind, msg):
    return mark(with_user_line(kind(msg), 3))


def _track(x):
    """``x`` ready to be differentiated: itself when already recorded (a nested transform), else a leaf."""
    if not isinstance(x, Tensor) or x._data.dtype.kind != "f":
        return x
    return x if x.requires_grad else x.detach().requires_grad_(True)


def _grads(outputs, inputs, cotangents, keep_graph):
    with enable_grad():
        got = _autograd_grad(outputs, inputs, cotangents, retain_graph=True, create_graph=True, allow_unused=True)
    got = [g if g is not None else x.detach() * 0 for g, x in zip(got, inputs)]
    return got if keep_graph else [g.detach() for g in got]


def _argnums(argnums, nargs, name):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise _err(RuntimeError, f"{name}: argnums {argnums!r} is out of range for a function called with "
                                     f"{nargs} positional arguments")
    return tuple(n % nargs for n in nums)


def _any_recorded(obj):
    return any(isinstance(t, Tensor) and t.requires_grad for t in tree_flatten(obj)[0])


# -- grad ------------------------------------------------------------------------------------------------------
def grad_and_value(func, argnums=0, has_aux=False):
    """Like :func:`grad`, returning ``(gradient, value)`` (``((gradient, value), aux)`` with ``has_aux``)."""

    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args), "grad")
        outer = _any_recorded([args[i] for i in nums])
        args = list(args)
        for i in nums:
            args[i] = tree_unflatten([_track(x) for x in tree_flatten(args[i])[0]], tree_flatten(args[i])[1])
        with enable_grad():
            out = func(*args, **kwargs)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise _err(RuntimeError, "grad(has_aux=True): the function must return a pair (output, aux)")
            out, aux = out
        if not isinstance(out, Tensor) or out.numel() != 1 or out._data.dtype.kind != "f":
            raise _err(RuntimeError, "grad: the function must return a single-element floating-point tensor (a "
                                     f"scalar loss), got {_describe(out)}; use jacrev for non-scalar outputs")
        per_arg = []
        for i in nums:
            leaves, spec = tree_flatten(args[i])
            wrt = [x for x in leaves if isinstance(x, Tensor) and x.requires_grad]
            got = iter(_grads([out], wrt, None, outer) if wrt else [])
            per_arg.append(tree_unflatten([next(got) if isinstance(x, Tensor) and x.requires_grad else None
                                           for x in leaves], spec))
        g = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
        value = out if outer else out.detach()
        return ((g, value), aux) if has_aux else (g, value)

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """The gradient of scalar-valued ``func`` with respect to argument(s) ``argnums``.

    >>> import ember
    >>> grad(grad(lambda x: x.sin()))(ember.tensor(0.0))  # -sin(0)
    tensor(-0.)
    """
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        out = gv(*args, **kwargs)
        return (out[0][0], out[1]) if has_aux else out[0]

    return wrapper


def _describe(x):
    return f"shape {tuple(x.shape)} {x.dtype.name}" if isinstance(x, Tensor) else type(x).__name__


# -- vjp / jvp ---------------------------------------------------------------------------------------------------
def vjp(func, *primals, has_aux=False):
    """``(output, vjp_fn)``; ``vjp_fn(cotangents)`` returns one gradient per primal."""
    outer = _any_recorded(primals)
    tracked = [tree_unflatten([_track(x) for x in tree_flatten(p)[0]], tree_flatten(p)[1]) for p in primals]
    with enable_grad():
        out = func(*tracked)
    aux = None
    if has_aux:
        out, aux = out
    out_leaves, out_spec = tree_flatten(out)

    def vjp_fn(*cotangents):
        cot = cotangents[0] if len(cotangents) == 1 else cotangents
        cot_leaves, _ = tree_flatten(cot)
        if len(cot_leaves) != len(out_leaves):
            raise _err(RuntimeError, f"vjp: expected {len(out_leaves)} cotangent(s) matching the outputs, got "
                                     f"{len(cot_leaves)}")
        for o, c in zip(out_leaves, cot_leaves):
            if tuple(o.shape) != tuple(c.shape):
                raise _err(RuntimeError, f"vjp: a cotangent has shape {tuple(c.shape)} but its output has shape "
                                         f"{tuple(o.shape)}")
        result = []
        for p in tracked:
            leaves, spec = tree_flatten(p)
            wrt = [x for x in leaves if isinstance(x, Tensor) and x.requires_grad]
            got = iter(_grads(out_leaves, wrt, cot_leaves, outer or _any_recorded(cot_leaves)) if wrt else [])
            result.append(tree_unflatten([next(got) if isinstance(x, Tensor) and x.requires_grad else None
                                          for x in leaves], spec))
        return tuple(result)

    value = out if outer else tree_unflatten([o.detach() for o in out_leaves], out_spec)
    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def jvp(func, primals, tangents, *, has_aux=False):
    """``(output, J @ tangents)``: the forward-mode product, computed as the derivative of a vjp (the
    "double vjp" trick: the vjp is linear in its cotangent, so differentiating it along ``tangents`` gives J v)."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise _err(RuntimeError, f"jvp: got {len(primals)} primals but {len(tangents)} tangents")
    for p, t in zip(tree_flatten(primals)[0], tree_flatten(tangents)[0]):
        if isinstance(p, Tensor) and tuple(p.shape) != tuple(t.shape):
            raise _err(RuntimeError, f"jvp: a tangent has shape {tuple(t.shape)} but its primal has shape "
                                     f"{tuple(p.shape)}")
    res = vjp(func, *primals, has_aux=has_aux)
    out, vjp_fn = res[0], res[1]
    out_leaves, out_spec = tree_flatten(out)
    dummies = [o.detach() * 0 for o in out_leaves]
    for d in dummies:
        d.requires_grad_(True)
    with enable_grad():
        pulled = tree_flatten(vjp_fn(tree_unflatten(dummies, out_spec)))[0]
        pairs = [(g, t) for g, t in zip(pulled, tree_flatten(tangents)[0]) if g is not None]
        total = sum((g * t).sum() for g, t in pairs)
    keep = _any_recorded(primals) or _any_recorded(tangents)
    jv = _grads([total], dummies, None, keep)
    out_value = tree_unflatten(out_leaves, out_spec)
    result = (out_value, tree_unflatten(jv, out_spec))
    return result + (res[2],) if has_aux else result


def linearize(func, *primals):
    """``(output, jvp_fn)`` with ``jvp_fn(*tangents)`` = J @ tangents at ``primals``."""
    out = func(*primals)
    return out, lambda *tangents: jvp(func, primals, tangents)[1]


# -- Jacobians ----------------------------------------------------------------------------------------------------
def jacrev(func, argnums=0, *, has_aux=False):
    """The Jacobian of ``func`` with respect to ``argnums``, one reverse-mode pass per output element; shape
    ``output.shape + input.shape``."""

    def wrapper(*args):
        nums = _argnums(argnums, len(args), "jacrev")
        outer = _any_recorded([args[i] for i in nums])
        args = list(args)
        for i in nums:
            args[i] = _track(args[i])
        with enable_grad():
            out = func(*args)
        aux = None
        if has_aux:
            out, aux = out
        wrt = [args[i] for i in nums]
        out_leaves, out_spec = tree_flatten(out)
        jacs = [_jacobian_of(o, wrt, outer) for o in out_leaves]  # per output: per input
        per_out = [tuple(j) if not isinstance(argnums, int) else j[0] for j in jacs]
        result = tree_unflatten(per_out, out_spec)
        return (result, aux) if has_aux else result

    return wrapper


jacfwd = jacrev  # same values; computed in reverse mode


def _jacobian_of(out, wrt, keep_graph):
    flat = out.reshape(-1)
    rows = []
    for k in range(flat.shape[0]):
        rows.append(_grads([flat[k]], wrt, None, keep_graph))
    result = []
    for j, x in enumerate(wrt):
        if rows:
            jac = stack([r[j] for r in rows]).reshape(*tuple(out.shape), *tuple(x.shape))
        else:
            jac = x.new_zeros(*tuple(out.shape), *tuple(x.shape))
        result.append(jac)
    return result


def hessian(func, argnums=0):
    """The Hessian of scalar ``func``: ``jacfwd(jacrev(func))``."""
    return jacfwd(jacrev(func, argnums), argnums)


# -- vmap ---------------------------------------------------------------------------------------------------------
def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over a batch dimension: it runs once per example (slices along ``in_dims``) and the
    results are stacked along ``out_dims``. ``in_dims``: an int (every argument), or a tuple with one entry per
    argument (None: not mapped)."""
    def wrapper(*args, **kwargs):
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise _err(ValueError, f"vmap: in_dims has {len(dims)} entries but the function got {len(args)} "
                                   "positional arguments")
        sizes = set()
        for a, d in zip(args, dims):
            for leaf in tree_flatten(a)[0] if d is not None else []:
                if isinstance(leaf, Tensor):
                    if not -leaf.ndim <= d < leaf.ndim:
                        raise _err(ValueError, f"vmap: in_dim {d} is out of range for an argument of shape "
                                               f"{tuple(leaf.shape)}")
                    sizes.add(leaf.shape[d])
        if len(sizes) != 1:
            raise _err(ValueError, "vmap: the mapped dimensions must all have the same size, got sizes "
                                   f"{sorted(sizes) or 'none (no tensor is mapped)'}; pass in_dims=None for the "
                                   "arguments that are not batched")
        (n,) = sizes
        results = []
        for b in range(n):
            sliced = [a if d is None else tree_unflatten(
                [x.select(d, b) if isinstance(x, Tensor) else x for x in tree_flatten(a)[0]], tree_flatten(a)[1])
                for a, d in zip(args, dims)]
            results.append(func(*sliced, **kwargs))
        leaves0, spec = tree_flatten(results[0])
        per_leaf = zip(*[tree_flatten(r)[0] for r in results])
        odims = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(leaves0)
        stacked = [stack([Tensor._wrap(_as_array(v)) if not isinstance(v, Tensor) else v for v in vals], d)
                   for vals, d in zip(per_leaf, odims)]
        return tree_unflatten(stacked, spec)

    return wrapper


def _as_array(v):
    import numpy as np

    return np.asarray(v)


# -- functional_call ------------------------------------------------------------------------------------------------
def functional_call(module, parameter_and_buffer_dicts, args=(), kwargs=None, *, tie_weights=True, strict=False):
    """Call ``module`` with some of its parameters and buffers replaced by the given tensors (by dotted name),
    restoring the originals afterwards. Gradients flow to the tensors passed in.

    >>> import ember
    >>> lin = ember.nn.Linear(2, 1)
    >>> functional_call(lin, {"weight": ember.ones(1, 2), "bias": ember.zeros(1)}, (ember.ones(1, 2),))
    tensor([[2.]])
    """
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, (tuple, list)):
        merged = {}
        for d in dicts:
            clash = set(merged) & set(d)
            if clash:
                raise _err(ValueError, f"functional_call: {sorted(clash)} appear in more than one dict")
            merged.update(d)
        dicts = merged
    if strict:
        expected = {n for n, _ in module.named_parameters()} | {n for n, _ in module.named_buffers()}
        missing, unexpected = sorted(expected - set(dicts)), sorted(set(dicts) - expected)
        if missing or unexpected:
            raise _err(RuntimeError, f"functional_call(strict=True): missing keys {missing}, unexpected keys "
                                     f"{unexpected}")
    saved = []  # (dict, key, old value), restored in reverse order
    try:
        slots = [(_slot(module, name), value) for name, value in dicts.items()]
        new_for = {id(owner.__dict__[table][leaf]): value for (owner, table, leaf), value in slots
                   if owner.__dict__[table].get(leaf) is not None}  # id(old tensor) -> its replacement
        # every place holding an old tensor, in one walk before any write (so a swap of two weights stays one):
        # the named slots, plain attributes (a Keras layer reads ``self.kernel``) and, with tie_weights, the
        # other modules sharing it (tied weights)
        owners = dict.fromkeys(owner for (owner, _, _), _ in slots)
        for holder in (module.modules() if tie_weights else owners):
            _swap(holder, new_for, saved)
        for (owner, table, leaf), value in slots:  # slots that held None
            if owner.__dict__[table].get(leaf) is not value:
                _put(owner.__dict__[table], leaf, value, saved)
        if not isinstance(args, tuple):
            args = (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for d, key, old in reversed(saved):
            d[key] = old


def _put(d, key, value, saved):
    saved.append((d, key, d.get(key)))
    d[key] = value


def _swap(holder, new_for, saved):
    """Replace, in ``holder``'s plain attributes and parameter/buffer tables, every tensor ``new_for`` maps."""
    d = holder.__dict__
    for table in (d, d.get("_parameters", {}), d.get("_buffers", {})):
        for key, v in [(k, v) for k, v in table.items() if id(v) in new_for]:
            _put(table, key, new_for[id(v)], saved)


def _slot(module, name):
    *path, leaf = name.split(".")
    owner = module
    for part in path:
        sub = owner._modules.get(part)  # the attribute: a Keras LayerCollection computes its children
        if sub is None:
            raise _err(AttributeError, f"functional_call: {name!r} names no submodule ({part!r} is not a child of "
                                 f"{type(owner).__name__}); names look like 'layer.weight'")
        owner = sub
    for table in ("_parameters", "_buffers"):
        if leaf in owner.__dict__[table]:
            return owner, table, leaf
    import difflib

    names = sorted(owner.__dict__["_parameters"]) + sorted(owner.__dict__["_buffers"])
    close = difflib.get_close_matches(leaf, names, n=1)
    raise _err(AttributeError, f"functional_call: {type(owner).__name__} has no parameter or buffer {leaf!r} (from "
                               f"{name!r}); its names are {sorted(owner.__dict__['_parameters'])} and buffers "
                               f"{sorted(owner.__dict__['_buffers'])}" + (f". Did you mean {close[0]!r}?" if close
                                                                         else ""))


# -- control flow -------------------------------------------------------------------------------------------------
def cond(pred, true_fn, false_fn, operands=()):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)`` (``torch.cond``). ``pred`` is a bool or a
    one-element tensor. Eager: only the taken branch runs; under ``ember.compile`` reading ``pred`` is a
    data-dependent branch (the trace records which way it went, as for any ``if`` on a tensor).

    >>> import ember
    >>> x = ember.tensor([1.0, -2.0])
    >>> cond(x.sum() > 0, lambda v: v * 2, lambda v: -v, (x,))  # the sum is -1: the false branch
    tensor([-1.,  2.])
    """
    if isinstance(pred, Tensor):
        if pred.numel() != 1:
            raise _err(RuntimeError, f"cond: pred must be a bool or a one-element tensor, got shape "
                                     f"{tuple(pred.shape)}; reduce it first (e.g. x.sum() > 0 or x.any())")
        pred = bool(pred.reshape(()).item())
    elif not isinstance(pred, (bool, int)):
        raise _err(TypeError, f"cond: pred must be a bool or a one-element tensor, got {type(pred).__name__}")
    if not isinstance(operands, (tuple, list)):
        raise _err(TypeError, f"cond: operands must be a tuple of tensors, got {type(operands).__name__}; wrap a "
                              "single tensor as (x,)")
    return (true_fn if pred else false_fn)(*operands)
