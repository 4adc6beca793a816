"""Two more forms of a convolution beside im2col (``conv.py``) and Winograd (``winograd.py``), and the choice
between them.

Spatial attrs as in ``conv.py``: ``kernel``, ``stride``, ``dilation`` (one int per spatial dim) and ``padding``
((before, after) pairs); K = prod(kernel).

- **Shift-sum** (few output channels): instead of gathering the C*K inputs of every output position (im2col's
  column matrix, C*K rows), multiply first and shift after. ``Z = W_r (O*K, C) @ x (C, positions)`` holds, for
  every input position, its product with every kernel tap; the output is the sum over the taps of Z's planes,
  each read at its tap's offset: ``shift_sum(z)[n, o, q] = sum_k z[n, o*K + k, q*stride + k*dilation - pad]``.
  The intermediate has O*K rows instead of C*K, so for O << C (the GAN's 7x7 128 -> 1 convolution: 49 rows
  instead of 6272) no large matrix is ever built; its gradients are the matmul's and ``shift_scatter``
  (the adjoint: each output gradient written back to its K taps), all small.
- **Channels-last columns** (transposed convolutions, strided ones): the same im2col / col2im with the
  channels as the last, contiguous axis: ``im2col_last(x (N, *S, C)) -> (N, *outs, K*C)`` (rows ordered
  (k, c)) and its adjoint ``col2im_last``. Every kernel offset's copy or sum then runs over rows of C
  contiguous values instead of rows of one image width (7-28 values in the GAN): the NumPy passes that
  dominated ``col2im`` (150 of the 200 ms of a 4x4 stride-2 transposed convolution) become 4-5x cheaper,
  and the GEMMs are plain 2-D ones over (N*positions, C). Keras layers hand over channels-last data
  already (their permutes to channels-first are views, undone here without a copy).

Each primitive's vjp is its adjoint (all four are linear), so gradients of any order stay in these forms.
``choose_conv`` / ``choose_conv_transpose`` pick the form per call from the shapes (measured, see
docs/internals.md); ``forced(name)`` overrides the choice where the form applies (tests).
"""
from __future__ import annotations

import contextlib
import math

from . import _tflite
from ._core import Aval, apply, register, unsupported
from .conv import _offset_slices, _offsets, out_sizes

_ALL = (slice(None),)


def _pad_spatial(xp, x, padding, first):
    """``x`` zero-padded on its spatial axes: axes 2.. (``first``: channels-first) or 1..-1."""
    if not any(b or a for b, a in padding):
        return x
    lead, tail = (((0, 0), (0, 0)), ()) if first else (((0, 0),), ((0, 0),))
    return xp.pad(x, lead + tuple(padding) + tail)


# -- shift_sum / shift_scatter (channels-first) --------------------------------------------------------------
def _shift_sum_fwd(xp, z, kernel, stride, padding, dilation):
    k = math.prod(kernel)
    outs = out_sizes(z.shape[2:], kernel, stride, padding, dilation)
    zpad = _pad_spatial(xp, z, padding, True)
    planes = zpad.reshape((z.shape[0], z.shape[1] // k) + tuple(kernel) + zpad.shape[2:])
    out = None
    for offset in _offsets(kernel):  # one strided slice-add per tap, over its plane only
        part = planes[_ALL * 2 + offset + _offset_slices(offset, stride, dilation, outs)]
        out = part.copy() if out is None else xp.add(out, part, out=out)
    return out


def _shift_scatter_fwd(xp, g, size, kernel, stride, padding, dilation):
    outs = out_sizes(size, kernel, stride, padding, dilation)
    padded = tuple(s + p[0] + p[1] for s, p in zip(size, padding))
    planes = xp.zeros(tuple(g.shape[:2]) + tuple(kernel) + padded, dtype=g.dtype)
    for offset in _offsets(kernel):  # each (tap, window) lands on its own position: assignments, no sums
        planes[_ALL * 2 + offset + _offset_slices(offset, stride, dilation, outs)] = g
    crop = tuple(slice(p[0], p[0] + s) for s, p in zip(size, padding))
    out = planes.reshape((g.shape[0], g.shape[1] * math.prod(kernel)) + padded)[_ALL * 2 + crop]
    return xp.ascontiguousarray(out)


def _win(a):
    return {k: a[k] for k in ("kernel", "stride", "padding", "dilation")}


def _shift_sum_rule(z, kernel, stride, padding, dilation):
    k = math.prod(kernel)
    if z.ndim != len(kernel) + 2 or (z.shape[1] is not None and z.shape[1] % k):
        raise RuntimeError(f"shift_sum: expected (N, O*{k}, {len(kernel)} spatial dims) for kernel "
                           f"{tuple(kernel)}, got shape {z.shape}")
    outs = out_sizes(z.shape[2:], kernel, stride, padding, dilation)
    if any(o is not None and o < 1 for o in outs):
        raise RuntimeError(f"shift_sum: input {z.shape} with padding {padding} is smaller than the kernel "
                           f"{tuple(kernel)}")
    return Aval((z.shape[0], None if z.shape[1] is None else z.shape[1] // k) + tuple(outs), z.dtype, z.device)


def _shift_scatter_rule(g, size, kernel, stride, padding, dilation):
    return Aval((g.shape[0], None if g.shape[1] is None else g.shape[1] * math.prod(kernel)) + tuple(size),
                g.dtype, g.device)


register("shift_sum", _shift_sum_fwd, infer=_shift_sum_rule, kind="nn",
         vjp=lambda g, out, z, **a: (apply("shift_scatter", g, size=tuple(z.shape[2:]), **_win(a)),))
register("shift_scatter", _shift_scatter_fwd, infer=_shift_scatter_rule, kind="nn",
         vjp=lambda h, out, g, size, **a: (apply("shift_sum", h, **_win(a)),))


# -- im2col_last / col2im_last (channels-last) ---------------------------------------------------------------
def _im2col_last_fwd(xp, x, kernel, stride, padding, dilation):
    nd = len(kernel)
    outs = out_sizes(x.shape[1:-1], kernel, stride, padding, dilation)
    xpad = _pad_spatial(xp, x, padding, False)
    st = xpad.strides
    shape = (x.shape[0],) + tuple(outs) + tuple(kernel) + (x.shape[-1],)
    strides = ((st[0],) + tuple(st[1 + i] * stride[i] for i in range(nd))
               + tuple(st[1 + i] * dilation[i] for i in range(nd)) + (st[-1],))
    view = xp.lib.stride_tricks.as_strided(xpad, shape=shape, strides=strides)
    cols = xp.empty(shape, dtype=x.dtype)  # one copy, rows of C contiguous values
    cols[...] = view
    return cols.reshape(shape[:1 + nd] + (math.prod(kernel) * x.shape[-1],))


def _clipped(offset, stride, dilation, padding, outs, size):
    """For one kernel offset: (destination slices in the unpadded input, source slices over the windows), the
    windows whose tap at ``offset`` lands inside the input (the rest read padding)."""
    dst, src = [], []
    for o, s, d, (before, _), n, length in zip(offset, stride, dilation, padding, outs, size):
        start = o * d - before  # input position of window 0's tap
        lo = max(0, -(start // s)) if start < 0 else 0  # first window landing at >= 0
        hi = min(n, (length - 1 - start) // s + 1) if length - 1 >= start else 0
        hi = max(hi, lo)
        dst.append(slice(start + lo * s, start + (hi - 1) * s + 1 if hi > lo else start + lo * s, s))
        src.append(slice(lo, hi))
    return tuple(dst), tuple(src)


def _col2im_last_fwd(xp, cols, size, kernel, stride, padding, dilation):
    nd, k = len(kernel), math.prod(kernel)
    outs = out_sizes(size, kernel, stride, padding, dilation)
    c = cols.shape[-1] // k
    # no padded buffer: each offset adds only the windows whose tap lands inside (no zero-fill of the
    # padding, no cropping copy after)
    out = xp.zeros((cols.shape[0],) + tuple(size) + (c,), dtype=cols.dtype)
    blocks = cols.reshape(tuple(cols.shape[:1 + nd]) + tuple(kernel) + (c,))
    for offset in _offsets(kernel):
        dst, src = _clipped(offset, stride, dilation, padding, outs, size)
        if all(sl.stop > sl.start for sl in src):
            out[_ALL + dst] += blocks[_ALL + src + offset]
    return out


def _im2col_last_rule(x, kernel, stride, padding, dilation):
    nd = len(kernel)
    if x.ndim != nd + 2:
        raise RuntimeError(f"im2col_last: expected (N, {nd} spatial dims, C) for kernel {tuple(kernel)}, got "
                           f"shape {x.shape}")
    outs = out_sizes(x.shape[1:-1], kernel, stride, padding, dilation)
    if any(o is not None and o < 1 for o in outs):
        raise RuntimeError(f"im2col_last: input {x.shape} with padding {padding} is smaller than the kernel "
                           f"{tuple(kernel)}")
    c = x.shape[-1]
    return Aval((x.shape[0],) + tuple(outs) + (None if c is None else c * math.prod(kernel),), x.dtype, x.device)


def _col2im_last_rule(cols, size, kernel, stride, padding, dilation):
    k, nd = math.prod(kernel), len(kernel)
    outs = out_sizes(size, kernel, stride, padding, dilation)
    c = cols.shape[-1]
    if (cols.ndim != nd + 2 or (c is not None and c % k)
            or any(a is not None and a != b for a, b in zip(cols.shape[1:-1], outs))):
        raise RuntimeError(f"col2im_last: expected (N, *{tuple(outs)}, C*{k}) for output size {tuple(size)}, "
                           f"kernel {tuple(kernel)}, stride {tuple(stride)}, got shape {cols.shape}")
    return Aval((cols.shape[0],) + tuple(size) + (None if c is None else c // k,), cols.dtype, cols.device)


register("im2col_last", _im2col_last_fwd, infer=_im2col_last_rule, kind="nn",
         vjp=lambda g, out, x, **a: (apply("col2im_last", g, size=tuple(x.shape[1:-1]), **_win(a)),))
register("col2im_last", _col2im_last_fwd, infer=_col2im_last_rule, kind="nn",
         vjp=lambda g, out, cols, size, **a: (apply("im2col_last", g, **_win(a)),))

for _name in ("shift_sum", "shift_scatter", "im2col_last", "col2im_last"):
    unsupported(_name, "onnx", "a form of a convolution: ONNX gets the Conv / ConvTranspose layer node, a bare "
                "use of this primitive does not export")
_tflite.mark(["shift_sum", "shift_scatter", "im2col_last", "col2im_last"],
             "a form of a convolution: TFLite gets the layer node (CONV_2D, TRANSPOSE_CONV); export the model with "
             "ember.export.tflite, which keeps layer nodes")


# -- the choice ----------------------------------------------------------------------------------------------
_FORCED: list = []


@contextlib.contextmanager
def forced(form):
    """Within the block, convolutions take ``form`` wherever it computes them: ``"shift"`` (shift-sum),
    ``"last"`` (channels-last columns), ``"im2col"`` (channels-first columns, for ``conv_transpose`` its
    col2im); ``None``: the measured choice. Winograd has its own switch (``ops.winograd.forced``).

    >>> import ember
    >>> from ember.ops import conv_forms
    >>> with conv_forms.forced("shift"):
    ...     ember.nn.functional.conv2d(ember.ones(1, 2, 4, 4), ember.ones(1, 2, 3, 3), padding=1)[0, 0, 0]
    tensor([ 8., 12., 12.,  8.])
    """
    _FORCED.append(form)
    try:
        yield
    finally:
        _FORCED.pop()


def _static(x):
    return None not in x.shape


def choose_conv(x, w, stride, groups) -> str:
    """The form of a (non-Winograd) convolution: "shift" when the output channels times the stride area are
    at most half the input channels (the shift-sum's matrix is then the smaller one and its extra products at
    skipped strided positions stay few), else "last" for strided ones with enough input channels, else
    "im2col"."""
    c_out, c_in = w.shape[0], w.shape[1]
    form = _FORCED[-1] if _FORCED else None
    if groups != 1 or not _static(x):
        return "im2col"
    if form is not None:
        return form
    if c_out * math.prod(stride) * SHIFT_RATIO <= c_in:
        return "shift"
    return "last" if math.prod(stride) > 1 and c_in >= LAST_MIN_CHANNELS else "im2col"


def choose_conv_transpose(x, w, stride, output_padding, groups) -> str:
    """The form of a transposed convolution: "last" (channels-last GEMM + ``col2im_last``) wherever it
    applies (groups 1, each output_padding under its stride), else "im2col" (GEMM + ``col2im``)."""
    form = _FORCED[-1] if _FORCED else None
    if groups != 1 or not _static(x) or any(o >= s for o, s in zip(output_padding, stride)):
        return "im2col"
    return "im2col" if form in ("im2col", "shift") else "last"


# measured (docs/internals.md): shift-sum won from O = C/4 (stride 1) and O * stride area = C/8; tied at O = C/2.
# Channels-last columns won on strided convolutions with 64 input channels, lost with 1 and at stride 1
SHIFT_RATIO, LAST_MIN_CHANNELS = 2, 8
