"""Random-direction gradient checks (Chainer's ``check_backward``, JAX's ``check_vjp``).

For a function ``f`` and a random cotangent ``v`` on its outputs, the vjp gives ``g_i = J_i^T v`` for each
differentiable input ``x_i``. Along a random direction ``u_i`` the adjoint identity says
``<g_i, u_i> = <v, J_i u_i>``, and the right-hand side is the derivative of ``phi(x_i) = <v, f(x)>`` along
``u_i``, which a central difference ``(phi(x_i + eps u_i) - phi(x_i - eps u_i)) / (2 eps)`` approximates in
float64. One scalar comparison per input checks every entry of the vjp at once (a wrong entry changes the
scalar unless ``u_i`` is unluckily orthogonal to the error, which has probability zero).
"""

from __future__ import annotations

import numpy as np


class GradcheckError(AssertionError):
    """A vjp disagrees with the numerical derivative (or has the wrong shape/dtype)."""


def _is_tensor(x) -> bool:
    from ..tensor import Tensor

    return isinstance(x, Tensor)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _fn_name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _differentiable_outputs(outs):
    """Indices of the outputs a cotangent is attached to: floating-point tensors (complex ones are refused:
    the real-valued checks here would skip them)."""
    for k, o in enumerate(outs):
        if _is_tensor(o) and o.dtype.is_complex:
            raise GradcheckError(f"gradcheck: output {k} is {o.dtype.name}; check real outputs, e.g. "
                                 "ember.view_as_real(out) (and complex inputs as ember.complex(re, im) of real ones)")
    return [k for k, o in enumerate(outs) if _is_tensor(o) and o.dtype.is_floating_point]


def _phi(fn, inputs, i, delta, out_idx, cotangents) -> float:
    """<v, f(x)> with input ``i`` moved by ``delta`` (a NumPy array), in float64."""
    from ..creation import tensor

    moved = list(inputs)
    x = inputs[i]
    moved[i] = tensor(x._data + delta, dtype=x.dtype, requires_grad=True)
    outs = _as_tuple(fn(*moved))
    total = 0.0
    for k, v in zip(out_idx, cotangents):
        total += float(np.sum(outs[k]._data.astype(np.float64) * v))
    return total


def gradcheck(
    fn,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    n_directions: int = 1,
    seed: int = 0,
    grad_outputs=None,
) -> bool:
    """Check the vjps of ``fn`` at ``inputs`` against central differences along random directions.

    ``inputs`` is a tensor or a tuple of arguments; tensors with ``requires_grad=True`` are checked and must
    be float64 (finite differences in float32 are too coarse to mean anything). Other arguments are passed
    through unchanged. ``fn`` returns a tensor or a tuple of tensors; non-floating outputs (indices, masks)
    are ignored. ``grad_outputs`` fixes the cotangents (one NumPy array or tensor per floating output);
    by default they are random. For each checked input and each of ``n_directions`` random directions
    ``u``, the check is ``|<vjp, u> - numeric| <= atol + rtol * |numeric|``. Also checks that every
    gradient has its input's shape and dtype. Returns True, or raises ``GradcheckError`` with a report.
    """
    from ..autograd_engine import grad

    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if _is_tensor(x) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad; pass tensors with requires_grad=True")
    for i in wrt:
        if inputs[i].dtype.name != "float64":
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype.name}; use float64 inputs "
                + ("(the real and imaginary parts as float64 tensors, joined by ember.complex inside fn)"
                   if inputs[i].dtype.is_complex else "(x.double()) so finite differences are accurate")
            )
    rng = np.random.default_rng(seed)
    outs = _as_tuple(fn(*inputs))
    out_idx = _differentiable_outputs(outs)
    if grad_outputs is not None:
        cotangents = [
            np.asarray(g._data if _is_tensor(g) else g, dtype=np.float64) for g in _as_tuple(grad_outputs)
        ]
    else:
        cotangents = [rng.standard_normal(tuple(outs[k].shape)) for k in out_idx]
    from ..creation import tensor

    live = [(outs[k], v) for k, v in zip(out_idx, cotangents) if outs[k].requires_grad]
    if live:
        gouts = [tensor(v, dtype=o.dtype) for o, v in live]
        grads = grad([o for o, _ in live], [inputs[i] for i in wrt], grad_outputs=gouts, allow_unused=True)
    else:
        grads = (None,) * len(wrt)
    name = _fn_name(fn)
    for i, g in zip(wrt, grads):
        x = inputs[i]
        if g is not None and (tuple(g.shape) != tuple(x.shape) or g.dtype is not x.dtype):
            raise GradcheckError(
                f"gradcheck of {name}: the gradient of input {i} has shape {tuple(g.shape)} and dtype "
                f"{g.dtype.name}, but the input has shape {tuple(x.shape)} and dtype {x.dtype.name}"
            )
        for d in range(n_directions):
            u = rng.standard_normal(tuple(x.shape))
            analytic = 0.0 if g is None else float(np.sum(g._data.astype(np.float64) * u))
            numeric = (
                _phi(fn, inputs, i, eps * u, out_idx, cotangents)
                - _phi(fn, inputs, i, -eps * u, out_idx, cotangents)
            ) / (2 * eps)
            bound = atol + rtol * abs(numeric)
            if not abs(analytic - numeric) <= bound:  # also catches NaN
                raise GradcheckError(
                    f"gradcheck of {name}: input {i} (shape {tuple(x.shape)}), direction {d}: the vjp gives "
                    f"<grad, u> = {analytic:.10g} but the central difference (eps={eps:g}) gives "
                    f"{numeric:.10g}; |difference| {abs(analytic - numeric):.3g} > atol + rtol*|numeric| = "
                    f"{bound:.3g}" + (" (the gradient is None: the input looked unused)" if g is None else "")
                )
    return True


def gradgradcheck(
    fn,
    inputs,
    grad_outputs=None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    n_directions: int = 1,
    seed: int = 0,
) -> bool:
    """Check second derivatives: ``gradcheck`` of the vjp of ``fn``, taken with ``create_graph=True``.

    The checked function is ``(x..., v...) -> (J(x)^T v ...)`` for the differentiable inputs ``x`` of
    ``fn`` and cotangents ``v`` on its floating outputs (random unless ``grad_outputs`` is given). Its vjp
    involves the derivatives of the vjps themselves, so a vjp written with non-differentiable array code,
    or one whose own gradient is wrong, fails here. Inputs must be float64, as for ``gradcheck``.
    """
    from ..autograd_engine import grad
    from ..creation import tensor, zeros_like

    inputs = _as_tuple(inputs)
    n = len(inputs)
    wrt = [i for i, x in enumerate(inputs) if _is_tensor(x) and x.requires_grad]
    if not wrt:
        raise ValueError("gradgradcheck: no input requires grad; pass tensors with requires_grad=True")
    rng = np.random.default_rng(seed + 1)
    outs = _as_tuple(fn(*inputs))
    live = [k for k in _differentiable_outputs(outs) if outs[k].requires_grad]
    if grad_outputs is not None:
        vs = [
            tensor(np.asarray(g._data if _is_tensor(g) else g), dtype=outs[k].dtype, requires_grad=True)
            for k, g in zip(live, _as_tuple(grad_outputs))
        ]
    else:
        vs = [
            tensor(rng.standard_normal(tuple(outs[k].shape)), dtype=outs[k].dtype, requires_grad=True)
            for k in live
        ]

    def vjp(*args):
        xs, cot = args[:n], args[n:]
        o = _as_tuple(fn(*xs))
        used = [o[k] for k in live]
        if not used:
            return tuple(zeros_like(xs[i]) for i in wrt)
        gs = grad(used, [xs[i] for i in wrt], grad_outputs=list(cot), create_graph=True, allow_unused=True)
        return tuple(zeros_like(xs[i]) if g is None else g for i, g in zip(wrt, gs))

    vjp.__qualname__ = f"vjp of {_fn_name(fn)}"
    return gradcheck(
        vjp, inputs + tuple(vs), eps=eps, atol=atol, rtol=rtol, n_directions=n_directions, seed=seed + 2
    )


def _torch_style(check, name):
    """``torch.autograd.<name>``'s keywords over ``check``: ``raise_exception=False`` returns False instead
    of raising; torch's switches for which modes to check (``check_forward_ad``, ``fast_mode``, ...) are
    accepted (Ember checks the vjp; ``n_directions`` random directions per input, 4 by default here)."""

    def checker(func, inputs, *args, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, n_directions=4,
                **modes):
        unknown = set(modes) - _TORCH_MODES
        if unknown:
            raise TypeError(f"{name}() got unexpected keyword arguments {sorted(unknown)}")
        try:
            return check(func, inputs, *args, eps=eps, atol=atol, rtol=rtol, n_directions=n_directions)
        except GradcheckError:
            if raise_exception:
                raise
            return False

    checker.__name__ = checker.__qualname__ = name
    checker.__doc__ = (f"``torch.autograd.{name}``: True when the analytical derivatives match finite "
                       "differences (float64 inputs), else raises ``GradcheckError`` (or returns False with "
                       "``raise_exception=False``).\n\n    >>> import ember\n    >>> x = ember.randn(3, "
                       "dtype=ember.float64, requires_grad=True)\n"
                       f"    >>> ember.autograd.{name}(lambda t: (t * t).sin(), (x,))\n    True\n")
    return checker


_TORCH_MODES = {"nondet_tol", "check_undefined_grad", "check_grad_dtypes", "check_batched_grad",
                "check_batched_forward_grad", "check_forward_ad", "check_backward_ad", "fast_mode", "masked",
                "gen_non_contig_grad_outputs"}
torch_gradcheck = _torch_style(gradcheck, "gradcheck")
torch_gradgradcheck = _torch_style(gradgradcheck, "gradgradcheck")
