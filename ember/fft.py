"""``ember.fft``: PyTorch's ``torch.fft`` (discrete Fourier transforms) with its names, signatures and dtypes.

``fft``/``ifft`` (and ``fft2``/``fftn`` ...) take real or complex input and return complex; ``rfft`` takes real
input and returns the one-sided complex spectrum; ``irfft`` takes that back to real; ``hfft``/``ihfft`` are
the Hermitian pair (a one-sided spectrum's signal is real). ``n``/``s`` trim or zero-pad each transformed dim
first; ``norm`` is ``"backward"`` (the default: no scaling forward, 1/n inverse), ``"ortho"`` (1/sqrt(n) both
ways) or ``"forward"`` (1/n forward). Integer and bool inputs compute in the default float dtype; float32 gives
complex64, float64 complex128; float16 and bfloat16 are refused, as PyTorch's CPU FFTs refuse them.

Every transform is differentiable with PyTorch's gradients (autograd's convention for complex numbers: the
gradient of a real loss with respect to x + iy is dL/dx + i dL/dy). The array code is NumPy's ``numpy.fft``
(pocketfft) on the CPU and CuPy's ``cupy.fft`` (cuFFT) on CUDA. Complex tensors stay eager: a function compiled
with ``ember.compile`` that makes one falls back to eager (a graph break), and exports refuse them.

>>> import ember
>>> x = ember.tensor([1.0, 2.0, 3.0, 4.0])
>>> ember.fft.fft(x)
tensor([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j])
>>> ember.fft.irfft(ember.fft.rfft(x), n=4)
tensor([1., 2., 3., 4.])
"""
from __future__ import annotations

import builtins
import operator

import numpy as np

from . import dtypes
from .errors import mark as _mark
from .errors import with_user_line as _with_user_line
from .ops import apply as _apply
from .tensor import Tensor as _Tensor

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
           "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]


def _err(kind, message):
    return _mark(_with_user_line(kind(message), 4))


# -- arguments (PyTorch's canonicalisation and its errors) ----------------------------------------------------
def _scaling(norm, forward):
    """PyTorch's ``norm_from_string``: the scaling the primitive applies ("none", "sqrtn", "n")."""
    if norm is None or norm == "backward":
        return "none" if forward else "n"
    if norm == "forward":
        return "n" if forward else "none"
    if norm == "ortho":
        return "sqrtn"
    raise _err(RuntimeError, f'Invalid normalization mode: "{norm}" (expected "backward", "ortho" or "forward")')


def _wrap_dim(fname, d, ndim):
    try:
        d = operator.index(d)
    except TypeError:
        raise _err(TypeError, f"{fname}: dim must be an int or a sequence of ints, got {d!r}") from None
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not lo <= d <= hi or ndim == 0:
        if ndim == 0:
            raise _err(IndexError, f"{fname}: dimension specified as {d} but the tensor has no dimensions")
        raise _err(IndexError, f"{fname}: dimension out of range (expected to be in range of [{lo}, {hi}], but got "
                               f"{d})")
    return d % ndim


def _points(n):
    if n < 1:
        raise _err(RuntimeError, f"Invalid number of data points ({n}) specified")
    return n


def _promote(fname, x, require_complex=False):
    """PyTorch's ``promote_tensor_fft``: integers and bools in the default float dtype; float16/bfloat16
    refused (PyTorch's CPU FFTs have no half-precision kernels)."""
    if not isinstance(x, _Tensor):
        raise _err(TypeError, f"{fname}: expected a tensor, got {type(x).__name__}")
    kind = x._data.dtype.kind
    if kind in "biu":
        x = _apply("cast", x, dtype=dtypes.get_default_dtype().name)
    name = x.dtype.name
    if name not in ("float32", "float64", "complex64", "complex128"):
        raise _err(RuntimeError, f"{fname}: Unsupported dtype {name} (the FFTs take float32, float64, complex64 and "
                                 "complex128, as PyTorch's on the CPU; convert with .float() first)")
    if require_complex and not x.dtype.is_complex:
        x = _apply("cast", x, dtype=dtypes.to_complex(x.dtype).name)
    return x


def _require_real(fname, x):
    if isinstance(x, _Tensor) and x.dtype.is_complex:
        raise _err(RuntimeError, f"{fname} expects a real input tensor, but got {x.dtype.name}")


def _shape_and_dims(fname, x, s, dim):
    """PyTorch's ``canonicalize_fft_shape_and_dim_args``: (signal sizes, dims), every dim non-negative."""
    ndim = x.ndim
    dims = None
    if dim is not None:
        seq = (dim,) if not isinstance(dim, (tuple, list)) else tuple(dim)
        dims = tuple(_wrap_dim(fname, d, ndim) for d in seq)
        if len(set(dims)) != len(dims):
            raise _err(RuntimeError, f"{fname}: FFT dims must be unique, got {tuple(seq)}")
    if s is not None:
        s = (s,) if not isinstance(s, (tuple, list)) else tuple(s)
        if dims is not None and len(dims) != len(s):
            raise _err(RuntimeError, f"{fname}: when given, dim and shape arguments must have the same length "
                                     f"(s={s}, dim={dim})")
        if len(s) > ndim:
            raise _err(RuntimeError, f"{fname}: got shape with {len(s)} values but input tensor only has {ndim} "
                                     "dimensions")
        if dims is None:
            dims = tuple(range(ndim - len(s), ndim))
        shape = tuple(x.shape[d] if n == -1 else operator.index(n) for n, d in zip(s, dims))
    else:
        if dims is None:
            dims = tuple(range(ndim))
        shape = tuple(x.shape[d] for d in dims)
    for n in shape:
        _points(n)
    return shape, dims


def _resize(x, dims, sizes):
    """``x`` trimmed or zero-padded (at the end) to ``sizes`` along ``dims`` (differentiable shape ops)."""
    key, pads = [slice(None)] * x.ndim, [(0, 0)] * x.ndim
    trim = pad = False
    for d, n in zip(dims, sizes):
        if n < x.shape[d]:
            key[d], trim = slice(0, n), True
        elif n > x.shape[d]:
            pads[d], pad = (0, n - x.shape[d]), True
    if trim:
        x = x[tuple(key)]
    if pad:
        x = _apply("pad", x, pads=tuple(pads), value=0.0)
    return x


def _c2c(x, dims, norm, forward):
    return _apply("fft_c2c", x, dim=tuple(dims), norm=norm, forward=forward)


def _conj(x):
    return _apply("conj", x)


def _out(result, out):
    """``out=``: the result written into ``out`` (which must have its shape and dtype) and ``out`` returned."""
    if out is None:
        return result
    if not isinstance(out, _Tensor) or tuple(out.shape) != tuple(result.shape) or out.dtype is not result.dtype:
        what = f"shape {tuple(out.shape)} and dtype {out.dtype.name}" if isinstance(out, _Tensor) else repr(out)
        raise _err(RuntimeError, f"out= must be a tensor of shape {tuple(result.shape)} and dtype "
                                 f"{result.dtype.name}, got {what}")
    out.copy_(result)
    return out


# -- one dim --------------------------------------------------------------------------------------------------
def _fft_c2c(fname, x, n, dim, norm, forward):
    x = _promote(fname, x, require_complex=True)
    d = _wrap_dim(fname, dim, x.ndim)
    size = _points(x.shape[d] if n is None else operator.index(n))
    x = _resize(x, (d,), (size,)) if n is not None else x
    return _c2c(x, (d,), _scaling(norm, forward), forward)


def _fft_r2c(fname, x, n, dim, norm, forward):
    _require_real(fname, x)
    x = _promote(fname, x)
    d = _wrap_dim(fname, dim, x.ndim)
    size = _points(x.shape[d] if n is None else operator.index(n))
    x = _resize(x, (d,), (size,)) if n is not None else x
    out = _apply("fft_r2c", x, dim=(d,), norm=_scaling(norm, forward))
    return out if forward else _conj(out)


def _fft_c2r(fname, x, n, dim, norm, forward):
    x = _promote(fname, x, require_complex=True)
    d = _wrap_dim(fname, dim, x.ndim)
    size = _points(2 * (x.shape[d] - 1) if n is None else operator.index(n))
    x = _resize(x, (d,), (size // 2 + 1,))
    if forward:
        x = _conj(x)
    return _apply("fft_c2r", x, dim=(d,), norm=_scaling(norm, forward), last_dim_size=size)


def fft(input, n=None, dim=-1, norm=None, *, out=None):
    """The one-dimensional discrete Fourier transform of ``input`` along ``dim`` (``n``: the signal length, the
    input trimmed or zero-padded to it).

    >>> ember.fft.fft(ember.tensor([1.0, 0.0, -1.0, 0.0]))
    tensor([0.+0.j, 2.+0.j, 0.+0.j, 2.+0.j])
    """
    return _out(_fft_c2c("fft", input, n, dim, norm, True), out)


def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of ``fft`` (scaled by 1/n with the default ``norm="backward"``).

    >>> ember.fft.ifft(ember.tensor([0j, 2, 0, 2]))
    tensor([ 1.+0.j,  0.+0.j, -1.+0.j,  0.+0.j])
    """
    return _out(_fft_c2c("ifft", input, n, dim, norm, False), out)


def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The FFT of a real signal, its non-negative frequencies only (n // 2 + 1 of them along ``dim``).

    >>> ember.fft.rfft(ember.tensor([1.0, 0.0, -1.0, 0.0]))
    tensor([0.+0.j, 2.+0.j, 0.+0.j])
    """
    return _out(_fft_r2c("rfft", input, n, dim, norm, True), out)


def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The real signal of a one-sided spectrum (the inverse of ``rfft``); ``n`` is the output length (default
    ``2 * (bins - 1)``: pass ``n`` for odd lengths).

    >>> ember.fft.irfft(ember.tensor([0j, 2, 0]))
    tensor([ 1.,  0., -1.,  0.])
    """
    return _out(_fft_c2r("irfft", input, n, dim, norm, False), out)


def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The FFT of a Hermitian-symmetric signal given by its first half: a real spectrum of length ``n``
    (default ``2 * (len - 1)``).

    >>> ember.fft.hfft(ember.tensor([1 + 0j, 0, 0]))
    tensor([1., 1., 1., 1.])
    """
    return _out(_fft_c2r("hfft", input, n, dim, norm, True), out)


def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of ``hfft``: the first half of the Hermitian spectrum of a real signal.

    >>> ember.fft.ihfft(ember.tensor([1.0, 1.0, 1.0, 1.0]))
    tensor([1.-0.j, 0.-0.j, 0.-0.j])
    """
    return _out(_fft_r2c("ihfft", input, n, dim, norm, False), out)


# -- several dims -------------------------------------------------------------------------------------------
def _fftn_c2c(fname, x, s, dim, norm, forward):
    x = _promote(fname, x, require_complex=True)
    shape, dims = _shape_and_dims(fname, x, s, dim)
    x = _resize(x, dims, shape)
    return _c2c(x, dims, _scaling(norm, forward), forward)


def _rfftn(fname, x, s, dim, norm):
    _require_real(fname, x)
    x = _promote(fname, x)
    shape, dims = _shape_and_dims(fname, x, s, dim)
    if not dims:
        raise _err(RuntimeError, f"{fname} must transform at least one axis")
    x = _resize(x, dims, shape)
    return _apply("fft_r2c", x, dim=dims, norm=_scaling(norm, True))


def _c2r_shape(fname, x, s, dim):
    """PyTorch's ``canonicalize_fft_c2r_shape_and_dim_args``: (input sizes, dims, output's last size)."""
    shape, dims = _shape_and_dims(fname, x, s, dim)
    if not dims:
        raise _err(RuntimeError, f"{fname} must transform at least one axis")
    if s is None or (s[-1] if isinstance(s, (tuple, list)) else s) == -1:
        last = 2 * (x.shape[dims[-1]] - 1)
    else:
        last = shape[-1]
    _points(last)
    return shape[:-1] + (last // 2 + 1,), dims, last


def _irfftn(fname, x, s, dim, norm):
    x = _promote(fname, x, require_complex=True)
    shape, dims, last = _c2r_shape(fname, x, s, dim)
    x = _resize(x, dims, shape)
    return _apply("fft_c2r", x, dim=dims, norm=_scaling(norm, False), last_dim_size=last)


def _hfftn(fname, x, s, dim, norm):
    x = _promote(fname, x, require_complex=True)
    shape, dims, last = _c2r_shape(fname, x, s, dim)
    x = _resize(x, dims, shape)
    scaling = _scaling(norm, True)
    if len(dims) > 1:
        x = _c2c(x, dims[:-1], scaling, True)
    return _apply("fft_c2r", _conj(x), dim=dims[-1:], norm=scaling, last_dim_size=last)


def _ihfftn(fname, x, s, dim, norm):
    _require_real(fname, x)
    x = _promote(fname, x)
    shape, dims = _shape_and_dims(fname, x, s, dim)
    if not dims:
        raise _err(RuntimeError, f"{fname} must transform at least one axis")
    x = _resize(x, dims, shape)
    scaling = _scaling(norm, False)
    out = _conj(_apply("fft_r2c", x, dim=dims[-1:], norm=scaling))
    return _c2c(out, dims[:-1], scaling, False) if len(dims) > 1 else out


def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The two-dimensional FFT over ``dim`` (the last two dims by default); ``s``: the signal sizes.

    >>> ember.fft.fft2(ember.ones(2, 2))
    tensor([[4.+0.j, 0.+0.j],
            [0.+0.j, 0.+0.j]])
    """
    return _out(_fftn_c2c("fft2", input, s, dim, norm, True), out)


def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The inverse of ``fft2``.

    >>> ember.fft.ifft2(ember.fft.fft2(ember.ones(2, 2))).real
    tensor([[1., 1.],
            [1., 1.]])
    """
    return _out(_fftn_c2c("ifft2", input, s, dim, norm, False), out)


def fftn(input, s=None, dim=None, norm=None, *, out=None):
    """The N-dimensional FFT over ``dim`` (every dim by default; the last ``len(s)`` dims when only ``s``
    is given).

    >>> ember.fft.fftn(ember.ones(2, 2, 2)).abs().sum()
    tensor(8.)
    """
    return _out(_fftn_c2c("fftn", input, s, dim, norm, True), out)


def ifftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of ``fftn``.

    >>> ember.fft.ifftn(ember.fft.fftn(ember.ones(2, 2, 2))).real.sum()
    tensor(8.)
    """
    return _out(_fftn_c2c("ifftn", input, s, dim, norm, False), out)


def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """``rfftn`` over two dims: the last of them one-sided.

    >>> ember.fft.rfft2(ember.ones(2, 4)).shape
    ember.Size([2, 3])
    """
    return _out(_rfftn("rfft2", input, s, dim, norm), out)


def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The inverse of ``rfft2``.

    >>> ember.fft.irfft2(ember.fft.rfft2(ember.ones(2, 4)))
    tensor([[1., 1., 1., 1.],
            [1., 1., 1., 1.]])
    """
    return _out(_irfftn("irfft2", input, s, dim, norm), out)


def rfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The N-dimensional FFT of a real signal: full along every transformed dim but the last, one-sided there.

    >>> ember.fft.rfftn(ember.ones(2, 2, 4)).shape
    ember.Size([2, 2, 3])
    """
    return _out(_rfftn("rfftn", input, s, dim, norm), out)


def irfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of ``rfftn``: ``s[-1]`` (default ``2 * (bins - 1)``) is the output's last transformed size.

    >>> ember.fft.irfftn(ember.fft.rfftn(ember.ones(2, 4))).shape
    ember.Size([2, 4])
    """
    return _out(_irfftn("irfftn", input, s, dim, norm), out)


def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """``hfftn`` over two dims.

    >>> ember.fft.hfft2(ember.ones(2, 3, dtype=ember.complex64)).shape
    ember.Size([2, 4])
    """
    return _out(_hfftn("hfft2", input, s, dim, norm), out)


def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The inverse of ``hfft2``.

    >>> ember.fft.ihfft2(ember.ones(2, 4)).shape
    ember.Size([2, 3])
    """
    return _out(_ihfftn("ihfft2", input, s, dim, norm), out)


def hfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The N-dimensional FFT of a Hermitian-symmetric signal given by its half (along the last dim): real.

    >>> ember.fft.hfftn(ember.ones(2, 3, dtype=ember.complex64)).shape
    ember.Size([2, 4])
    """
    return _out(_hfftn("hfftn", input, s, dim, norm), out)


def ihfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of ``hfftn``: the half spectrum of a real signal.

    >>> ember.fft.ihfftn(ember.ones(2, 4)).shape
    ember.Size([2, 3])
    """
    return _out(_ihfftn("ihfftn", input, s, dim, norm), out)


# -- frequencies and shifts ---------------------------------------------------------------------------------
def _freqs(fname, ints, scale, out, dtype, device, requires_grad):
    from .creation import tensor

    d = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
    if d.category < 2:
        raise _err(RuntimeError, f"{fname} requires a floating point or complex dtype, got {d.name}")
    real = dtypes.to_real(d)
    with np.errstate(all="ignore"):  # (n = 0: rfftfreq's one bin is 0 * inf = nan, as PyTorch's)
        values = np.asarray(ints, dtype=real.np) * real.np.type(scale)  # PyTorch: arange, then *= 1 / (n * d)
    result = tensor(values, dtype=d, device=device, requires_grad=requires_grad)
    return _out(result, out)


def _inverse(v):
    """1 / v in double, inf for 0 (C's division, which PyTorch's kernels do)."""
    return 1.0 / v if v else float("inf")


def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an ``n``-point FFT with sample spacing ``d``: ``[0, 1, ..., (n - 1) // 2,
    -(n // 2), ..., -1] / (d * n)``.

    >>> ember.fft.fftfreq(5)
    tensor([ 0.0000,  0.2000,  0.4000, -0.4000, -0.2000])
    """
    n = operator.index(n)
    ints = list(builtins.range((n + 1) // 2)) + list(builtins.range(-(n // 2), 0))
    return _freqs("fftfreq", ints, _inverse(n * d), out, dtype, device, requires_grad)


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The non-negative sample frequencies of ``rfft`` on ``n`` points: ``[0, 1, ..., n // 2] / (d * n)``.

    >>> ember.fft.rfftfreq(6)
    tensor([0.0000, 0.1667, 0.3333, 0.5000])
    """
    n = operator.index(n)
    return _freqs("rfftfreq", list(builtins.range(n // 2 + 1)), _inverse(n * d), out, dtype, device, requires_grad)


def _shift(fname, input, dim, inverse):
    from .functional.shape import roll

    if dim is None:
        dims = tuple(builtins.range(input.ndim))
    else:
        seq = (dim,) if not isinstance(dim, (tuple, list)) else tuple(dim)
        dims = tuple(_wrap_dim(fname, d, input.ndim) for d in seq)
    if not dims:
        raise _err(RuntimeError, f"{fname}: no dims to shift (a 0-d tensor or dim=()); PyTorch's roll needs shifts")
    shifts = tuple((input.shape[d] + 1) // 2 if inverse else input.shape[d] // 2 for d in dims)
    return roll(input, shifts, dims)


def fftshift(input, dim=None):
    """The zero-frequency term moved to the centre (a roll by ``size // 2`` along ``dim``, every dim by default).

    >>> ember.fft.fftshift(ember.fft.fftfreq(4))
    tensor([-0.5000, -0.2500,  0.0000,  0.2500])
    """
    return _shift("fftshift", input, dim, False)


def ifftshift(input, dim=None):
    """The inverse of ``fftshift`` (a roll by ``(size + 1) // 2``).

    >>> ember.fft.ifftshift(ember.fft.fftshift(ember.arange(5)))
    tensor([0, 1, 2, 3, 4])
    """
    return _shift("ifftshift", input, dim, True)
