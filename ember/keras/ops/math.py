"""``keras.ops`` math: segment reductions, top-k, erf family, FFTs as ``(real, imag)`` pairs, STFT, framing.

Ember tensors are real, so the Fourier transforms take and return ``(real, imag)`` tuples, as Keras's do; they
are matrix products with the DFT matrix (exact, differentiable, O(n^2) per axis).

>>> from ember.keras import ops
>>> re, im = ops.rfft(ops.convert_to_tensor([1.0, 0.0, 0.0, 0.0]))
>>> ops.convert_to_numpy(re).tolist(), ops.convert_to_numpy(im).tolist()
([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
"""

from __future__ import annotations

import math as _math

import numpy as np

import ember
from ember import functional as F

from ._common import const_like, edtype, fail, public_names, t, tf, to_numpy
from ._np_reduce import logsumexp  # noqa: F401


# -- segment reductions -----------------------------------------------------------------------------------------
def _segments(op, data, segment_ids, num_segments):
    x, ids = t(data), t(segment_ids, "int64")
    if ids.ndim != 1 or ids.shape[0] != x.shape[0]:
        raise fail(op, f"segment_ids must be 1-D with one id per row of data, got {tuple(ids.shape)} for data "
                       f"{tuple(x.shape)}")
    n = int(to_numpy(ids).max()) + 1 if num_segments is None and ids.shape[0] else int(num_segments or 0)
    member = (ids.reshape(-1, 1) == ember.arange(n, dtype=ids.dtype).reshape(1, -1))  # (rows, segments)
    return x, member, n


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    x, member, n = _segments("segment_sum", data, segment_ids, num_segments)
    flat = x.reshape(x.shape[0], -1)
    out = F.matmul(member.to(flat.dtype).swapaxes(0, 1), flat) if flat.is_floating_point() else \
        F.sum(member.unsqueeze(-1).to(flat.dtype) * flat.unsqueeze(1), 0)
    return out.reshape((n,) + tuple(x.shape[1:]))


def _segment_reduce(op, data, segment_ids, num_segments, fill, reduce):
    x, member, n = _segments(op, data, segment_ids, num_segments)
    m = member.reshape(tuple(member.shape) + (1,) * (x.ndim - 1))
    filled = F.where(m, x.unsqueeze(1), ember.full_like(x.unsqueeze(1), fill))
    return reduce(filled, 0)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    x = t(data)
    low = float(np.finfo(x.dtype.name).min) if x.is_floating_point() else int(np.iinfo(x.dtype.name).min)
    return _segment_reduce("segment_max", x, segment_ids, num_segments, low, lambda v, a: F.amax(v, a))


def segment_min(data, segment_ids, num_segments=None, sorted=False):
    x = t(data)
    high = float(np.finfo(x.dtype.name).max) if x.is_floating_point() else int(np.iinfo(x.dtype.name).max)
    return _segment_reduce("segment_min", x, segment_ids, num_segments, high, lambda v, a: F.amin(v, a))


def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    return _segment_reduce("segment_prod", data, segment_ids, num_segments, 1, lambda v, a: F.prod(v, a))


# -- selection --------------------------------------------------------------------------------------------------
def top_k(x, k, sorted=True):
    values, indices = F.topk(t(x), k, -1, True, True)
    return values, indices.to(edtype("int32"))


def in_top_k(targets, predictions, k):
    p, tg = tf(predictions), t(targets, "int64")
    target_score = F.take_along_dim(p, tg.reshape(-1, 1), 1)
    return F.sum((p > target_score).to(edtype("int32")), 1) < k


# -- elementwise special functions -------------------------------------------------------------------------------
def rsqrt(x):
    return F.rsqrt(tf(x))


def erf(x):
    return F.erf(tf(x))


def erfc(x):
    return 1.0 - F.erf(tf(x))


def erfinv(x):
    """Inverse error function: a detached float64 estimate refined by one Newton step on the tensor, which also
    gives the exact gradient ``sqrt(pi)/2 * exp(y**2)``."""
    x = tf(x)
    xs = to_numpy(x).astype(np.float64)
    y = _erfinv_estimate(xs)
    for _ in range(3):  # Newton in float64 on the detached estimate
        err = np.vectorize(_math.erf)(y) - xs
        y = np.where(np.isfinite(y), y - err / (2.0 / _math.sqrt(_math.pi) * np.exp(-y * y)), y)
    y0 = const_like(y, x)
    slope = const_like(2.0 / _math.sqrt(_math.pi) * np.exp(-y * y), x)
    safe = F.where(F.isfinite(y0), y0, y0 * 0)
    return F.where(F.isfinite(y0), safe - (F.erf(safe) - x) / slope, y0)


def _erfinv_estimate(x):
    """Giles's single-precision approximation of erfinv (float64 NumPy), +-inf at +-1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -np.log((1.0 - x) * (1.0 + x))
        w1, w2 = w - 2.5, np.sqrt(w) - 3.0
        p1 = np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                         -0.00125372503, -0.00417768164, 0.246640727, 1.50140941], w1)
        p2 = np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                         -0.0076224613, 0.00943887047, 1.00167406, 2.83297682], w2)
        y = np.where(w < 5.0, p1, p2) * x
    return np.where(np.abs(x) == 1.0, np.sign(x) * np.inf, np.where(np.abs(x) > 1.0, np.nan, y))


def logdet(x):
    return F.logdet(tf(x))


def cdist(x, y):
    a, b = tf(x), tf(y)
    diff = a.unsqueeze(-2) - b.unsqueeze(-3)
    return F.sqrt(F.sum(F.square(diff), -1))


# -- Fourier transforms over (real, imag) pairs ----------------------------------------------------------------
def _pair(op, x):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise fail(op, "expects a (real, imag) tuple of two tensors (Ember tensors are real)")
    re, im = tf(x[0]), tf(x[1])
    if tuple(re.shape) != tuple(im.shape):
        raise fail(op, f"real and imag parts differ in shape: {tuple(re.shape)} vs {tuple(im.shape)}")
    return re, im


def _dft(n, m, like, inverse=False, rows=None):
    """cos / sin DFT matrices (n inputs -> m frequencies) on ``like``'s device and dtype."""
    k = np.arange(n)[:, None] * np.arange(m if rows is None else rows)[None, :]
    ang = 2.0 * np.pi * k / n
    sign = 1.0 if inverse else -1.0
    return const_like(np.cos(ang), like), const_like(sign * np.sin(ang), like)


def _fft_last(re, im, inverse=False):
    n = re.shape[-1]
    c, s = _dft(n, n, re, inverse)
    out_re = F.matmul(re, c) - F.matmul(im, s)
    out_im = F.matmul(re, s) + F.matmul(im, c)
    return (out_re / n, out_im / n) if inverse else (out_re, out_im)


def fft(x):
    return _fft_last(*_pair("fft", x))


def fft2(x):
    re, im = _pair("fft2", x)
    re, im = _fft_last(re, im)
    re, im = _fft_last(re.swapaxes(-1, -2), im.swapaxes(-1, -2))
    return re.swapaxes(-1, -2), im.swapaxes(-1, -2)


def ifft2(x):
    re, im = _pair("ifft2", x)
    re, im = _fft_last(re, im, True)
    re, im = _fft_last(re.swapaxes(-1, -2), im.swapaxes(-1, -2), True)
    return re.swapaxes(-1, -2), im.swapaxes(-1, -2)


def _fit(x, n):
    """``x`` truncated or zero-padded to ``n`` along the last axis."""
    size = x.shape[-1]
    return F.narrow(x, -1, 0, n) if size >= n else F.pad(x, [0, n - size])


def rfft(x, fft_length=None):
    x = tf(x)
    n = x.shape[-1] if fft_length is None else int(fft_length)
    x = _fit(x, n)
    c, s = _dft(n, n // 2 + 1, x)
    return F.matmul(x, c), F.matmul(x, s)


def irfft(x, fft_length=None):
    re, im = _pair("irfft", x)
    n = 2 * (re.shape[-1] - 1) if fft_length is None else int(fft_length)
    bins = n // 2 + 1
    re, im = _fit(re, bins), _fit(im, bins)
    # Hermitian weights: interior bins count twice; DC (and Nyquist for even n) once; imag of those ignored
    w = np.full(bins, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    k = np.arange(bins)[:, None] * np.arange(n)[None, :]
    ang = 2.0 * np.pi * k / n
    c = const_like(w[:, None] * np.cos(ang) / n, re)
    s = const_like(-w[:, None] * np.sin(ang) / n, re)
    return F.matmul(re, c) + F.matmul(im, s)


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of ``sequence_length`` every ``sequence_stride`` along the last axis: ``(..., frames, length)``."""
    x = t(x)
    n = x.shape[-1]
    if n < sequence_length:
        raise fail("extract_sequences", f"the last axis ({n}) is shorter than sequence_length {sequence_length}")
    frames = 1 + (n - sequence_length) // sequence_stride
    idx = np.arange(frames)[:, None] * sequence_stride + np.arange(sequence_length)[None, :]
    return x[..., t(idx)]


def _window(op, window, length):
    if window is None:
        return np.ones(length)
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise fail(op, f"window must be 'hann', 'hamming', None or a tensor, got {window!r}")
        n = np.arange(length)
        a = 0.5 if window == "hann" else 0.54
        return a - (1 - a) * np.cos(2 * np.pi * n / length)
    w = to_numpy(window).astype(np.float64)
    if w.shape != (length,):
        raise fail(op, f"window must have sequence_length {length} entries, got shape {w.shape}")
    return w


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """Short-time Fourier transform: ``(real, imag)`` of shape ``(..., frames, fft_length // 2 + 1)``."""
    x = tf(x)
    if fft_length < sequence_length:
        raise fail("stft", f"fft_length ({fft_length}) must be >= sequence_length ({sequence_length})")
    if center:
        pad = fft_length // 2
        x = F.pad(x.reshape((-1, 1) + tuple(x.shape[-1:])), [pad, pad], mode="reflect").reshape(
            tuple(x.shape[:-1]) + (-1,))
    win = _window("stft", window, sequence_length)
    left = (fft_length - sequence_length) // 2
    full = np.zeros(fft_length)
    full[left:left + sequence_length] = win
    frames = extract_sequences(x, fft_length, sequence_stride) * const_like(full, x)
    return rfft(frames, fft_length)


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    """The inverse of ``stft`` by windowed overlap-add (normalized by the summed squared window)."""
    frames = irfft(x, fft_length)
    win = _window("istft", window, sequence_length)
    left = (fft_length - sequence_length) // 2
    full = np.zeros(fft_length)
    full[left:left + sequence_length] = win
    n_frames = frames.shape[-2]
    total = (n_frames - 1) * sequence_stride + fft_length
    # overlap-add as a product with a 0/1 placement matrix (frames * fft_length -> total)
    place = np.zeros((n_frames * fft_length, total))
    norm = np.zeros(total)
    for f in range(n_frames):
        for j in range(fft_length):
            place[f * fft_length + j, f * sequence_stride + j] = full[j]
        norm[f * sequence_stride:f * sequence_stride + fft_length] += full**2
    flat = frames.reshape(tuple(frames.shape[:-2]) + (-1,))
    out = F.matmul(flat, const_like(place, flat)) / const_like(np.where(norm > 1e-10, norm, 1.0), flat)
    start = fft_length // 2 if center else 0
    end = total - fft_length // 2 if center else total
    out = F.narrow(out, -1, start, end - start)
    if length is not None:
        out = _fit(out, int(length))
    return out


def view_as_real(x):
    raise fail("view_as_real", "complex tensors are not available: the Keras ops keep tensors real (Keras's FFT ops "
                               "here take and return (real, imag) pairs; ember.fft has complex ones)",
               NotImplementedError)


def view_as_complex(x):
    raise fail("view_as_complex", "complex tensors are not available: the Keras ops keep tensors real (keep "
                                  "(real, imag) pairs; ember.view_as_complex works outside Keras)", NotImplementedError)


__all__ = public_names(globals(), __name__) + ["logsumexp"]
