"""Op-table rows for the convolution forms of ``ember/ops/conv_forms.py`` (shift-sum, channels-last columns),
each forced in Ember over strides, asymmetric and 'same' padding, dilation, odd sizes, 1-D and 2-D, and
groups (where the form does not apply: the forced choice falls back to im2col), against PyTorch and a NumPy
reference, with the table's float64 first- and second-order gradient checks."""

from __future__ import annotations

import contextlib
import itertools

import numpy as np

from .spec import F, Row


def _forced(L, form):
    return L.ops.conv_forms.forced(form) if L.__name__ == "ember" else contextlib.nullcontext()


def _conv_np(x, w, stride=1, pad=0, dil=1, groups=1):
    """N-d convolution, one einsum per kernel offset; ``pad`` an int, a tuple of ints or of (before, after)."""
    nd = w.ndim - 2
    stride, dil = ((v,) * nd if isinstance(v, int) else v for v in (stride, dil))
    pad = [(p, p) if isinstance(p, int) else p for p in ((pad,) * nd if isinstance(pad, int) else pad)]
    xp_ = np.pad(x, [(0, 0), (0, 0)] + pad)
    outs = [(s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(xp_.shape[2:], w.shape[2:], stride, dil)]
    cg, og = w.shape[1], w.shape[0] // groups
    out = np.zeros((x.shape[0], w.shape[0]) + tuple(outs))
    for off in itertools.product(*[range(k) for k in w.shape[2:]]):
        sl = tuple(slice(o * d, o * d + st * (n - 1) + 1, st) for o, d, st, n in zip(off, dil, stride, outs))
        for g in range(groups):
            part = xp_[(slice(None), slice(g * cg, (g + 1) * cg)) + sl]
            out[:, g * og:(g + 1) * og] += np.einsum("nc...,oc->no...", part,
                                                     w[(slice(g * og, (g + 1) * og), slice(None)) + off])
    return out


def _conv_t_np(x, w, stride, pad, opad, dil):
    """Transposed convolution: each input position scatters its products with every tap, then a crop."""
    full = [(s - 1) * st + d * (k - 1) + 1 + o for s, st, d, k, o in zip(x.shape[2:], stride, dil, w.shape[2:], opad)]
    out = np.zeros((x.shape[0], w.shape[1]) + tuple(full))
    for off in itertools.product(*[range(k) for k in w.shape[2:]]):
        sl = tuple(slice(o * d, o * d + st * (n - 1) + 1, st) for o, d, st, n in zip(off, dil, stride, x.shape[2:]))
        out[(slice(None), slice(None)) + sl] += np.einsum("nc...,co->no...", x, w[(slice(None), slice(None)) + off])
    return out[(slice(None), slice(None)) + tuple(slice(p, f - p) for p, f in zip(pad, full))]


def _convs2d(form):
    def fn(L, x, w, b):
        F_ = L.nn.functional
        with _forced(L, form):
            return (F_.conv2d(x, w, b, padding=1), F_.conv2d(x, w, stride=2, padding=(1, 2), dilation=(1, 2)),
                    F_.conv2d(x, w, b, padding="same"), F_.conv2d(x, w, stride=(1, 3)),
                    F_.conv2d(x, w[:2, :2], groups=2))

    def ref(x, w, b):
        bias = b[None, :, None, None]
        same = [(t // 2, t - t // 2) for t in (k - 1 for k in w.shape[2:])]
        return (_conv_np(x, w, pad=1) + bias, _conv_np(x, w, stride=2, pad=(1, 2), dil=(1, 2)),
                _conv_np(x, w, pad=same) + bias, _conv_np(x, w, stride=(1, 3)), _conv_np(x, w[:2, :2], groups=2))

    return fn, ref


def _convs1d(form):
    def fn(L, x, w, b):
        F_ = L.nn.functional
        with _forced(L, form):
            return (F_.conv1d(x, w, b, stride=2, padding=2), F_.conv1d(x, w, padding="same", dilation=2),
                    F_.conv1d(x, w, stride=3))

    def ref(x, w, b):
        t = 2 * (w.shape[2] - 1)
        return (_conv_np(x, w, stride=2, pad=2) + b[None, :, None], _conv_np(x, w, pad=[(t // 2, t - t // 2)], dil=2),
                _conv_np(x, w, stride=3))

    return fn, ref


def _conv_t(L, x, w, b):
    F_ = L.nn.functional
    with _forced(L, "last"):
        return (F_.conv_transpose2d(x, w, b, stride=2, padding=1), F_.conv_transpose2d(
                    x, w, stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(2, 1)),
                F_.conv_transpose2d(x, w, b), F_.conv_transpose1d(x[:, :, 0], w[:, :, 0], b, stride=3, padding=1,
                                                                   output_padding=2),
                F_.conv_transpose2d(x, w[:, :2], stride=2, groups=2))


def _conv_t_ref(x, w, b):
    bias = b[None, :, None, None]
    halves = [_conv_t_np(x[:, g * 2:(g + 1) * 2], w[g * 2:(g + 1) * 2, :2], (2, 2), (0, 0), (0, 0), (1, 1))
              for g in range(2)]
    return (_conv_t_np(x, w, (2, 2), (1, 1), (0, 0), (1, 1)) + bias,
            _conv_t_np(x, w, (2, 3), (1, 0), (1, 2), (2, 1)),
            _conv_t_np(x, w, (1, 1), (0, 0), (0, 0), (1, 1)) + bias,
            _conv_t_np(x[:, :, 0], w[:, :, 0], (3,), (1,), (2,), (1,)) + b[None, :, None],
            np.concatenate(halves, axis=1))


def _prims(L, z, g, x, c):
    """The four primitives on their own, with asymmetric padding, stride and dilation."""
    ap = L.ops.apply
    win = dict(kernel=(2, 3), stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2))
    return (ap("shift_sum", z, **win), ap("shift_scatter", g, size=(5, 6), **win),
            ap("im2col_last", x, **win), ap("col2im_last", c, size=(5, 6), **win))


def _prims_ref(z, g, x, c):
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = (2, 3), (2, 1), ((1, 0), (2, 1)), (1, 2)
    oh, ow = (5 + pt + pb - dh * (kh - 1) - 1) // sh + 1, (6 + pl + pr - dw * (kw - 1) - 1) // sw + 1
    zp = np.pad(z.reshape(z.shape[0], -1, kh * kw, 5, 6), ((0, 0), (0, 0), (0, 0), (pt, pb), (pl, pr)))
    xp_ = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    ssum, cols = 0, []
    scat = np.zeros(g.shape[:2] + (kh * kw, 5 + pt + pb, 6 + pl + pr))
    col2 = np.zeros((c.shape[0], 5 + pt + pb, 6 + pl + pr, c.shape[-1] // (kh * kw)))
    cb = c.reshape(c.shape[:3] + (kh * kw, -1))
    for k, (i, j) in enumerate(itertools.product(range(kh), range(kw))):
        rows, cols_ = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
        ssum = ssum + zp[:, :, k, rows, cols_]
        scat[:, :, k, rows, cols_] = g
        cols.append(xp_[:, rows, cols_])
        col2[:, rows, cols_] += cb[:, :, :, k]
    scat = scat[:, :, :, pt:pt + 5, pl:pl + 6].reshape(g.shape[0], -1, 5, 6)
    return ssum, scat, np.concatenate(cols, axis=-1), col2[:, pt:pt + 5, pl:pl + 6]


_S2, _R2 = _convs2d("shift")
_L2, _LR2 = _convs2d("last")
_S1, _R1 = _convs1d("shift")
_L1, _LR1 = _convs1d("last")
_CASES2 = [(F(2, 4, 7, 6), F(3, 4, 2, 3), F(3)), (F(1, 4, 5, 9), F(2, 4, 3, 2), F(2))]
_CASES1 = [(F(2, 3, 9), F(2, 3, 3), F(2))]

ROWS = [
    Row("conv2d_shift", _S2, _R2, _CASES2, prims=("shift_sum", "shift_scatter"), covers=()),
    Row("conv1d_shift", _S1, _R1, _CASES1, prims=("shift_sum", "shift_scatter"), covers=()),
    Row("conv2d_last", _L2, _LR2, _CASES2, prims=("im2col_last", "col2im_last"), covers=()),
    Row("conv1d_last", _L1, _LR1, _CASES1, prims=("im2col_last", "col2im_last"), covers=()),
    Row("conv_transpose_last", _conv_t, _conv_t_ref, [(F(2, 4, 3, 4), F(4, 3, 3, 2), F(3)),
                                                      (F(1, 4, 4, 3), F(4, 2, 4, 4), F(2))],
        prims=("im2col_last", "col2im_last"), covers=()),
    Row("conv_form_primitives", _prims, _prims_ref,
        [(F(2, 12, 5, 6), F(2, 2, 3, 5), F(2, 5, 6, 3), F(2, 3, 5, 18))],
        prims=("shift_sum", "shift_scatter", "im2col_last", "col2im_last"), covers=(), torch=False),
]
