"""Op-table rows: complex numbers and the FFTs (ember/ops/complex.py, ember/ops/fft.py, ember/fft.py).

The table feeds real arrays and compares real outputs, so each row goes in and out of the complex dtypes inside
its function (``complex``/``view_as_complex`` in, ``view_as_real``/``real``/``abs`` out): the float64 gradient
checks then differentiate the complex ops through real losses, and PyTorch's gradients are compared on the same
functions. References are NumPy's (``numpy.fft``). tests/test_fft.py holds the full torch.fft sweep.
"""

from __future__ import annotations

import numpy as np

from .spec import NZ, F, Fn, P, Row


def _stack(z):
    return np.stack([z.real, z.imag], -1)


def _pairs(*shape, away=False):
    """A float array of ``shape + (2,)``: (real, imaginary) pairs for view_as_complex (``away``: both parts at
    least 0.5 from 0, for divisions and z / |z|)."""
    return Fn(lambda rng, sizes: (NZ if away else F)(*shape, 2).make(rng, sizes))


def _cplx(a):
    return a[..., 0] + 1j * a[..., 1]


def _parts_ref(z):
    return (_stack(z), z.real, z.imag, _stack(np.conj(z)), np.abs(z), np.angle(z), True, False, np.ones(z.shape, bool))


def _c(L, a):
    return L.view_as_complex(a)


def _r(L, z):
    return L.view_as_real(z.resolve_conj())  # (PyTorch's view_as_real refuses its lazily conjugated tensors)


ROWS = [
    Row("complex_parts",
        lambda L, a, b: (_r(L, L.complex(a, b)), L.complex(a, b).real, L.complex(a, b).imag,
                         _r(L, L.complex(a, b).conj()), L.complex(a, b).abs(), L.angle(L.complex(a, b)),
                         L.is_complex(L.complex(a, b)), L.is_conj(L.complex(a, b)), L.isreal(L.complex(a, b * 0))),
        lambda a, b: _parts_ref(a + 1j * b),
        [(NZ("a", "b"), NZ("a", "b")), (NZ(3, 1), NZ(4))],
        prims=("complex", "view_as_real", "real", "imag", "conj", "abs"),
        covers=("complex", "view_as_real", "imag", "is_complex", "is_conj")),
    Row("complex_arithmetic",
        lambda L, x, y: (_r(L, _c(L, x) * _c(L, y)), _r(L, _c(L, x) / _c(L, y)), _r(L, _c(L, x) + _c(L, y) * 2),
                         _r(L, (_c(L, x) - y[..., 0]) * 1j), _r(L, -_c(L, x)), _r(L, _c(L, x).sum(0)),
                         _r(L, _c(L, x).mean(-1)), _r(L, L.sgn(_c(L, x)))),
        lambda x, y: (_stack(_cplx(x) * _cplx(y)), _stack(_cplx(x) / _cplx(y)), _stack(_cplx(x) + _cplx(y) * 2),
                      _stack((_cplx(x) - y[..., 0]) * 1j), _stack(-_cplx(x)), _stack(_cplx(x).sum(0)),
                      _stack(_cplx(x).mean(-1)), _stack(_cplx(x) / np.abs(_cplx(x)))),
        [(_pairs("a", "b", away=True), _pairs("a", "b", away=True))],
        prims=("view_as_complex", "mul", "div", "add", "sub", "neg", "sum", "view_as_real"),
        covers=("view_as_complex", "sgn")),
    Row("complex_linear_algebra",
        lambda L, x, y: (_r(L, _c(L, x) @ _c(L, y).mT), _r(L, L.einsum("ij,kj->ik", _c(L, x), _c(L, y))),
                         _r(L, L.nn.functional.linear(_c(L, x)[0], _c(L, y), _c(L, y)[:, 0])),
                         _r(L, L.vdot(_c(L, x)[0], _c(L, y)[1]))),
        lambda x, y: (_stack(_cplx(x) @ _cplx(y).T), _stack(_cplx(x) @ _cplx(y).T),
                      _stack(_cplx(x)[0] @ _cplx(y).T + _cplx(y)[:, 0]), _stack(np.vdot(_cplx(x)[0], _cplx(y)[1]))),
        [(_pairs(3, 4), _pairs(2, 4))], prims=("matmul", "einsum", "linear", "conj"), covers=()),
    Row("polar", lambda L, m, t: (_r(L, L.polar(m, t)), L.polar(m, t).angle()),
        lambda m, t: (_stack(m * np.exp(1j * t)), np.angle(m * np.exp(1j * t))),
        [(P("a", "b"), F("a", "b", lo=-1.5, hi=1.5))], prims=("complex",), covers=("polar",)),
    Row("fft_c2c",
        lambda L, x, z: (_r(L, L.fft.fft(x)), _r(L, L.fft.ifft(_c(L, z), n=5, dim=0, norm="ortho")),
                         _r(L, L.fft.fftn(_c(L, z), s=(2, 6), norm="forward")), _r(L, L.fft.ifft2(x))),
        lambda x, z: (_stack(np.fft.fft(x)), _stack(np.fft.ifft(_cplx(z), n=5, axis=0, norm="ortho")),
                      _stack(np.fft.fftn(_cplx(z), s=(2, 6), norm="forward")), _stack(np.fft.ifft2(x))),
        [(F(3, 4), _pairs(3, 4))], prims=("fft_c2c", "cast", "pad", "getitem"), covers=()),
    Row("fft_r2c",
        lambda L, x: (_r(L, L.fft.rfft(x)), _r(L, L.fft.rfftn(x, s=(2, 7), norm="ortho")),
                      _r(L, L.fft.ihfft(x, dim=0, norm="forward")), _r(L, L.fft.rfft2(x, norm="forward"))),
        lambda x: (_stack(np.fft.rfft(x)), _stack(np.fft.rfftn(x, s=(2, 7), norm="ortho")),
                   _stack(np.fft.ihfft(x, axis=0, norm="forward")), _stack(np.fft.rfft2(x, norm="forward"))),
        [(F(3, 5),), (F(4, 6),)], prims=("fft_r2c", "conj"), covers=()),
    Row("fft_c2r",
        lambda L, z: (L.fft.irfft(_c(L, z)), L.fft.irfft(_c(L, z), n=7, dim=0, norm="ortho"),
                      L.fft.irfftn(_c(L, z), s=(3, 4)), L.fft.hfft(_c(L, z), norm="forward"),
                      L.fft.hfft2(_c(L, z), s=(2, 5))),
        lambda z: (np.fft.irfft(_cplx(z)), np.fft.irfft(_cplx(z), n=7, axis=0, norm="ortho"),
                   np.fft.irfftn(_cplx(z), s=(3, 4)), np.fft.hfft(_cplx(z), norm="forward"),
                   np.fft.irfftn(np.conj(np.fft.fft(_cplx(z)[:2, :3], axis=0)), s=(5,), axes=(1,), norm="forward")),
        [(_pairs(3, 4),), (_pairs(4, 5),)], prims=("fft_c2r", "fft_c2c", "conj"), covers=()),
]
