"""The rest of PyTorch's Tensor methods: front doors to ``ember.functional``'s newer composites
(``x.addcmul(...)``, ``x.quantile(...)``, ``x.unique()``), the in-place ``x.op_()`` forms PyTorch programs
write (``exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)``, ``ema.lerp_(p, 0.1)``, ``x.floor_()``), and a few
attributes (``nbytes``, ``mH``, ``is_cpu``). Installed by ``install()``, which never replaces a method the
core already defines.

>>> import ember
>>> m = ember.zeros(2)
>>> m.addcmul_(ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]), value=0.5)
tensor([1.5000, 4.0000])
>>> x = ember.tensor([1.7, -2.5])
>>> _ = x.floor_()
>>> x
tensor([ 1., -3.])
"""
from __future__ import annotations

from . import backend
from ._state import STATE
from .errors import mark, with_user_line

F = None  # installed by ember/_wiring.py: ember.functional (a higher layer)

# methods that call ember.<name>(self, ...) with the same arguments
FORWARDED = (
    "addcmul addcdiv addr addbmm logaddexp logaddexp2 xlogy logit exp2 sinc frac deg2rad rad2deg fmax fmin "
    "heaviside float_power positive clamp_min clamp_max greater greater_equal less less_equal not_equal multiply "
    "subtract divide negative absolute fix sgn nansum nanmean nanmedian nanquantile quantile aminmax msort diff "
    "cov corrcoef kron inner vdot matrix_power cross ravel moveaxis rot90 hsplit vsplit dsplit take diagflat "
    "index_fill masked_scatter unique unique_consecutive bincount histc fliplr flipud isclose cummax cummin "
    "logcumsumexp signbit copysign dist angle narrow_copy hypot ldexp renorm mode scatter_reduce index_reduce "
    "diagonal_scatter select_scatter slice_scatter gcd lcm frexp nextafter "
    "lgamma digamma mvlgamma erfinv erfc i0 igamma igammac conj conj_physical resolve_conj resolve_neg isreal"
).split()

# in-place forms ``x.<name>_(...)``: compute ``x.<name>(...)`` and write it into ``x`` (versioned and traced)
IN_PLACE = (
    "cos sin tan floor ceil round trunc log log1p log2 log10 rsqrt sign square erf expm1 reciprocal frac "
    "deg2rad rad2deg exp2 sinc logit xlogy addcmul addcdiv addr addbmm masked_scatter clamp_max fmod remainder "
    "floor_divide true_divide lerp nan_to_num cumsum cumprod tril triu logical_and logical_or logical_xor "
    "logical_not eq ne lt le gt ge greater greater_equal less less_equal not_equal multiply subtract divide "
    "negative absolute fix sgn atan2 bitwise_and bitwise_or bitwise_xor bitwise_not baddbmm addmm addmv "
    "float_power heaviside index_fill asin acos atan sinh cosh asinh acosh atanh arcsin arccos arctan arcsinh "
    "arccosh arctanh arctan2 copysign hypot ldexp renorm scatter_reduce index_reduce gcd lcm nextafter "
    "lgamma digamma polygamma mvlgamma erfinv erfc i0 igamma igammac conj_physical"
).split()

_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2, "V": 2, "c": 3}  # bool < integer < floating ("V": bfloat16) < complex


def _forward(name):
    def method(self, *args, **kwargs):
        return getattr(F, name)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"See ``ember.{name}``."
    return method


def _in_place(name):
    def method(self, *args, **kwargs):
        # under autograd the op reads a copy: its backward may need the old values, which the write replaces
        src = self.clone() if STATE.grad_enabled and self.requires_grad else self
        return write_into(self, getattr(src, name)(*args, **kwargs), name + "_")

    method.__name__ = name + "_"
    method.__doc__ = f"In-place ``{name}``: the result is written into this tensor, which is returned."
    return method


def write_into(self, result, name):
    """``self.copy_(result)`` with PyTorch's in-place rules: the result keeps ``self``'s shape and is cast to its
    dtype, which may not lose a category (a float result into an integer tensor is refused)."""
    if tuple(result.shape) != tuple(self.shape):
        raise mark(with_user_line(RuntimeError(
            f"{name}: the result's shape {tuple(result.shape)} (after broadcasting) does not match this tensor's "
            f"{tuple(self.shape)}; use the out-of-place form"), 3))
    if self._data.dtype.kind == "c" and result._data.dtype.kind != "c":  # (abs: |z| is real, PyTorch refuses)
        raise mark(with_user_line(RuntimeError(
            f"{name}: not supported in place on a complex tensor (the result is {result.dtype.name}); use "
            f"x = x.{name[:-1]}(...)"), 3))
    if _CATEGORY[result._data.dtype.kind] > _CATEGORY[self._data.dtype.kind]:
        raise mark(with_user_line(RuntimeError(
            f"{name}: result type {result.dtype.name} can't be cast to the desired output type {self.dtype.name}; "
            f"use x = x.{name[:-1]}(...) or convert x first (e.g. x = x.float())"), 3))
    return self.copy_(result)


def ndimension(self):
    return self.ndim


def is_signed(self):
    return self._data.dtype.kind in "ifVc"


def is_same_size(self, other):
    return tuple(self.shape) == tuple(other.shape)


def get_device(self):
    """-1 for a CPU tensor, else the CUDA device index."""
    return -1 if self.device.type == "cpu" else (self.device.index or 0)


def split_with_sizes(self, split_sizes, dim=0):
    return F.split(self, list(split_sizes), dim)


def sum_to_size(self, *size):
    """The sum of this tensor down to ``size``, which it must broadcast from (the reverse of ``expand``)."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    lead = self.ndim - len(shape)
    if lead < 0 or any(s not in (1, d) for s, d in zip(shape, self.shape[lead:])):
        raise mark(with_user_line(RuntimeError(
            f"sum_to_size: size {shape} is not expandable to the tensor's shape {tuple(self.shape)}"), 2))
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and self.shape[lead + i] != 1)
    out = self.sum(axes, keepdim=True) if axes else self
    return out.reshape(shape)


def polygamma(self, n):
    """``x.polygamma(n)`` is ``ember.polygamma(n, x)`` (torch's argument order for the method)."""
    return F.polygamma(n, self)


def adjoint(self):
    """The conjugate transpose of the last two dims (the transpose of a real tensor)."""
    return F.conj(self.mT)


def __dlpack__(self, stream=None, *, max_version=None, dl_device=None, copy=None):  # noqa: N807
    """A DLPack capsule of this tensor's memory (zero-copy): ``np.from_dlpack(t)``, ``torch.from_dlpack(t)``.

    >>> import numpy as np, ember
    >>> t = ember.zeros(3)
    >>> np.from_dlpack(t)[0] = 5.0   # the same memory
    >>> t
    tensor([5., 0., 0.])
    """
    self._data_access("dlpack")
    if self.requires_grad:
        raise mark(with_user_line(RuntimeError(
            "__dlpack__: can't export a tensor that requires grad; use tensor.detach() first"), 2))
    try:
        return backend.dlpack_export(self._data, stream=stream, max_version=max_version, dl_device=dl_device,
                                     copy=copy)
    except (BufferError, TypeError, ValueError) as exc:
        raise mark(with_user_line(BufferError(
            f"__dlpack__: a {self.dtype.name} tensor of shape {tuple(self.shape)} on {self.device} cannot be "
            f"exported: {exc}"), 2)) from None


def __dlpack_device__(self):  # noqa: N807
    """(DLPack device type, index): (1, 0) on the CPU, (2, i) on CUDA device i."""
    return backend.dlpack_device(self._data)


_METHODS = {
    "ndimension": ndimension, "is_signed": is_signed, "is_same_size": is_same_size, "get_device": get_device,
    "split_with_sizes": split_with_sizes, "polygamma": polygamma, "sum_to_size": sum_to_size, "adjoint": adjoint,
    "__dlpack__": __dlpack__, "__dlpack_device__": __dlpack_device__,
    "mH": property(adjoint), "H": property(lambda self: F.conj(self.T if self.ndim == 2 else self.permute(
        *reversed(range(self.ndim))))),
    # a complex tensor's parts: views of its memory (a real tensor's real part is itself; it has no imag)
    "real": property(lambda self: F.real(self)), "imag": property(lambda self: F.imag(self)),
    "nbytes": property(lambda self: self.numel() * self.element_size()),
    "itemsize": property(lambda self: self.element_size()),
    "is_cpu": property(lambda self: self.device.type == "cpu"),
    "is_conj": lambda self: False,  # no lazy conjugate bit: conj() computes the conjugate
}


def install(tensor_cls) -> None:
    """Add the methods above to ``tensor_cls`` (never replacing one it already has)."""
    for name in FORWARDED:
        if not hasattr(tensor_cls, name):
            setattr(tensor_cls, name, _forward(name))
    for name, fn in _METHODS.items():
        if not hasattr(tensor_cls, name):
            setattr(tensor_cls, name, fn)
    for name in IN_PLACE:
        if hasattr(tensor_cls, name) and not hasattr(tensor_cls, name + "_"):
            setattr(tensor_cls, name + "_", _in_place(name))
