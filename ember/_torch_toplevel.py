"""The rest of ``torch``'s top-level names that are other modules' functions under a second name:
``torch.conv2d`` (``nn.functional``'s), ``torch.relu_(x)`` (``x.relu_()``), ``torch.detach(x)``,
``torch.hann_window`` and the other window functions, the ``*_copy`` forms of views, and small predicates.
``install(namespace)`` adds each name the namespace does not define yet.

>>> import ember
>>> ember.conv2d(ember.ones(1, 1, 3, 3), ember.ones(1, 1, 2, 2)).tolist()
[[[[4.0, 4.0], [4.0, 4.0]]]]
>>> ember.hann_window(4).tolist()
[0.0, 0.5, 1.0, 0.5]
"""
from __future__ import annotations

import math

from . import _numpy_names, creation, functional
from .dtypes import get_default_dtype
from .errors import mark, with_user_line
from .nn import functional as NF
from .tensor import Tensor

# torch.<name> is torch.nn.functional.<name> (the same function)
FROM_NN = (
    "adaptive_avg_pool1d adaptive_max_pool1d alpha_dropout avg_pool1d batch_norm bilinear "
    "binary_cross_entropy_with_logits celu channel_shuffle conv1d conv2d conv3d conv_transpose1d conv_transpose2d "
    "conv_transpose3d cosine_embedding_loss cosine_similarity ctc_loss dropout embedding embedding_bag "
    "feature_alpha_dropout group_norm hardshrink hinge_embedding_loss instance_norm kl_div layer_norm "
    "margin_ranking_loss max_pool1d max_pool1d_with_indices max_pool2d max_pool3d pairwise_distance pixel_shuffle "
    "pixel_unshuffle poisson_nll_loss prelu rms_norm rrelu selu threshold triplet_margin_loss"
).split()
# torch.<name>_(x, ...) is x.<name>_(...)
IN_PLACE = (
    "abs acos acosh asin asinh atan atanh arccos arccosh arcsin arcsinh arctan arctanh ceil clamp clamp_max "
    "clamp_min clip cos cosh deg2rad erf erfc exp exp2 expm1 fix floor frac gcd i0 lcm ldexp log log10 log1p log2 "
    "logit nan_to_num neg negative rad2deg reciprocal relu round rsqrt sigmoid sin sinc sinh sqrt square tan "
    "tanh trunc xlogy zero fill index_put detach celu selu rrelu threshold dropout alpha_dropout "
    "feature_alpha_dropout"
).split()
# torch.<view>_copy(x, ...) is x.<view>(...).clone()
COPIES = ("alias diagonal expand permute select squeeze t transpose unbind unfold unsqueeze view split "
          "split_with_sizes").split()


def _in_place(name):
    def fn(input, *args, **kwargs):
        method = getattr(input, name + "_", None)
        if method is None and name in FROM_NN:  # (the nn activations: F.<name>(x, inplace=True))
            return getattr(NF, name)(input, *args, inplace=True, **kwargs)
        return method(*args, **kwargs)

    fn.__name__ = name + "_"
    fn.__doc__ = f"``input.{name}_(...)``: in place, returns ``input``."
    return fn


def _copy_of(view):
    def fn(input, *args, **kwargs):
        out = getattr(input, view)(*args, **kwargs) if view != "alias" else input
        return type(out)(o.clone() for o in out) if isinstance(out, (tuple, list)) else out.clone()

    fn.__name__ = view + "_copy"
    fn.__doc__ = f"``input.{view}(...)`` as a new tensor (not a view)."
    return fn


def _window(name, coefficients):
    """A cosine-sum window of ``window_length`` (``periodic``: the first ``n`` of ``n + 1`` points, for
    spectral analysis, as PyTorch's default)."""
    def fn(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False, layout=None):
        n = _length(name, window_length)
        if n <= 1:
            return creation.ones(n, dtype=dtype, device=device, requires_grad=requires_grad, layout=layout)
        denominator = n if periodic else n - 1
        k = creation.arange(n, dtype="float64", device=device) * (2 * math.pi / denominator)
        w = sum(((-1) ** i) * a * functional.cos(k * i) for i, a in enumerate(coefficients))
        out = w.to(dtype or get_default_dtype())
        return out.requires_grad_(True) if requires_grad else out

    fn.__name__ = name
    fn.__doc__ = f"PyTorch's ``{name}`` (a cosine-sum window): see ``ember._torch_toplevel``."
    return fn


def _length(name, n):
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise mark(with_user_line(ValueError(f"{name}: window_length must be a non-negative int, got {n!r}"), 3))
    return n


def bartlett_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False, layout=None):
    """The triangular window, 1 - |2k / (N - 1) - 1| (N = n + 1 when ``periodic``)."""
    n = _length("bartlett_window", window_length)
    if n <= 1:
        return creation.ones(n, dtype=dtype, device=device, requires_grad=requires_grad)
    denominator = n if periodic else n - 1
    k = creation.arange(n, dtype="float64", device=device)
    out = (1 - (k * (2.0 / denominator) - 1).abs()).to(dtype or get_default_dtype())
    return out.requires_grad_(True) if requires_grad else out


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, device=None, requires_grad=False,
                  layout=None):
    """The Kaiser window, I0(beta sqrt(1 - (2k / (N - 1) - 1)^2)) / I0(beta)."""
    n = _length("kaiser_window", window_length)
    if n <= 1:
        return creation.ones(n, dtype=dtype, device=device, requires_grad=requires_grad)
    denominator = n if periodic else n - 1
    r = creation.arange(n, dtype="float64", device=device) * (2.0 / denominator) - 1
    out = functional.i0(beta * (1 - r * r).clamp(min=0.0).sqrt()) / functional.i0(
        creation.tensor(float(beta), dtype="float64"))
    out = out.to(dtype or get_default_dtype())
    return out.requires_grad_(True) if requires_grad else out


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """A 0-d tensor of ``s`` (the default float dtype unless ``dtype``, as PyTorch)."""
    return creation.tensor(s, dtype=dtype or get_default_dtype(), device=device, requires_grad=requires_grad)


def rsub(input, other, *, alpha=1):
    """``other - alpha * input``."""
    return other - (input * alpha if alpha != 1 else input)


def typename(obj) -> str:
    """The legacy type name of a tensor (``'ember.FloatTensor'``), else the object's qualified class name."""
    if isinstance(obj, Tensor):
        return obj.type()
    cls = type(obj)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def is_same_size(input, other) -> bool:
    return tuple(input.shape) == tuple(other.shape)


def is_signed(input) -> bool:
    return input.dtype.is_signed


def is_complex(input) -> bool:
    return getattr(input.dtype, "is_complex", False)


def is_conj(input) -> bool:
    return False  # no lazily conjugated tensors in Ember


def is_neg(input) -> bool:
    return False  # no lazily negated tensors in Ember


def get_device(input) -> int:
    """-1 for a CPU tensor, else its CUDA device index (``torch.get_device``)."""
    return -1 if input.device.type == "cpu" else (input.device.index or 0)


_STATE = {"warn_always": False}


def set_warn_always(b: bool) -> None:
    """Recorded (``torch.set_warn_always``); Ember's warnings use Python's filters, set those to see repeats."""
    _STATE["warn_always"] = bool(b)


def is_warn_always_enabled() -> bool:
    return _STATE["warn_always"]


def install(namespace: dict) -> None:
    def put(name, value):  # torch's top-level functions are native: they take axis=/keepdims= for dim=/keepdim=
        if name not in namespace:
            namespace[name] = _numpy_names.accept_numpy_names(value) if _numpy_names.takes_dim(value) else value

    for name in FROM_NN:
        if hasattr(NF, name):
            put(name, getattr(NF, name))
    for name in IN_PLACE:
        put(name + "_", _in_place(name))
    for view in COPIES:
        put(view + "_copy", _copy_of(view))
    for name, coefficients in (("hann_window", (0.5, 0.5)), ("hamming_window", (0.54, 0.46)),
                               ("blackman_window", (0.42, 0.5, 0.08))):
        put(name, _window(name, coefficients))
    for fn in (bartlett_window, kaiser_window, scalar_tensor, rsub, typename, is_same_size, is_signed, is_complex,
               is_conj, is_neg, get_device, set_warn_always, is_warn_always_enabled):
        put(fn.__name__, fn)
    put("row_stack", namespace["vstack"])
    put("split_with_sizes", lambda input, split_sizes, dim=0: input.split_with_sizes(split_sizes, dim))
    put("detach", lambda input: input.detach())
    put("fill", lambda input, value: creation.full_like(input, value))
    put("is_inference_mode_enabled", lambda: False)  # (ember.inference_mode is no_grad: no inference tensors)
    put("slice_copy", slice_copy)


def slice_copy(input, dim=0, start=None, end=None, step=1):
    """``input`` sliced ``start:end:step`` along ``dim``, as a new tensor."""
    key = [slice(None)] * input.ndim
    key[dim] = slice(start, end, step)
    return input[tuple(key)].clone()
