"""Complex numbers: PyTorch's functions on the parts of complex tensors (``real``, ``imag``, ``conj``, ``angle``,
``sgn``, ``view_as_real``, ``view_as_complex``, ``complex``, ``polar``), as composites of the primitives in
``ember/ops/complex.py``. Real inputs get PyTorch's answers too (``real(x)`` is ``x``, ``conj(x)`` is ``x``,
``imag(x)`` raises). Ember's complex dtypes are ``complex64`` and ``complex128`` (no ``complex32``); which ops
take them is listed in docs/porting_from_pytorch.md, "Complex numbers".

>>> import ember
>>> z = ember.complex(ember.tensor([3.0]), ember.tensor([4.0]))
>>> z, z.abs(), ember.view_as_real(z)
(tensor([3.+4.j]), tensor([5.]), tensor([[3., 4.]]))
"""
from __future__ import annotations

from .. import dtypes
from ..errors import mark, with_user_line
from ..ops import apply
from .math import _float_input, binary, isfinite, sign, where


def _err(kind, message):
    return mark(with_user_line(kind(message), 3))


def _is_complex(x) -> bool:
    return x._data.dtype.kind == "c"


def is_complex(input) -> bool:
    """Whether ``input`` has a complex dtype (``complex64`` or ``complex128``).

    >>> ember.is_complex(ember.tensor([1j])), ember.is_complex(ember.tensor([1.0]))
    (True, False)
    """
    return _is_complex(input)


def real(input):
    """The real part: a view of a complex tensor's memory (writes show in ``input``); a real tensor itself.

    >>> ember.real(ember.tensor([1.5 - 2j]))
    tensor([1.5000])
    """
    return apply("real", input) if _is_complex(input) else input


def imag(input):
    """The imaginary part of a complex tensor, a view of its memory (a real tensor has none: an error, as
    in PyTorch).

    >>> ember.imag(ember.tensor([1.5 - 2j]))
    tensor([-2.])
    """
    if not _is_complex(input):
        raise _err(RuntimeError, f"imag is not implemented for tensors with non-complex dtypes ({input.dtype.name})")
    return apply("imag", input)


def conj(input):
    """The complex conjugate (a new tensor: Ember keeps no lazy conjugate bit); a real tensor itself.

    >>> ember.conj(ember.tensor([1 + 2j]))
    tensor([1.-2.j])
    """
    return apply("conj", input) if _is_complex(input) else input


conj_physical = conj


def resolve_conj(input):
    """``input`` itself: Ember's conjugates are computed when asked for (no lazy conjugate bit to resolve).

    >>> ember.resolve_conj(ember.tensor([1 + 2j]))
    tensor([1.+2.j])
    """
    return input


resolve_neg = resolve_conj


def is_conj(input) -> bool:
    """False: Ember keeps no lazy conjugate bit (``conj`` computes the conjugate).

    >>> ember.is_conj(ember.conj(ember.tensor([1j])))
    False
    """
    return False


def isreal(input):
    """Where the imaginary part is 0 (all True for a real tensor).

    >>> ember.isreal(ember.tensor([1 + 0j, 2j]))
    tensor([ True, False])
    """
    if _is_complex(input):
        return binary("eq", apply("imag", input), 0.0)
    from ..creation import ones_like

    return ones_like(input, dtype=dtypes.bool_)


def view_as_real(input):
    """A complex tensor as real numbers with a last dim of 2 (real, imaginary): a view of its memory.

    >>> ember.view_as_real(ember.tensor([1 + 2j, 3 - 4j]))
    tensor([[ 1.,  2.],
            [ 3., -4.]])
    """
    if not _is_complex(input):
        raise _err(RuntimeError, f"view_as_real is only supported for complex tensors, got {input.dtype.name}")
    return apply("view_as_real", input)


def view_as_complex(input):
    """A float32/float64 tensor whose last dim is 2 (real, imaginary) as a complex tensor: a view of its
    memory where the layout allows one, else a copy (PyTorch refuses such layouts).

    >>> ember.view_as_complex(ember.tensor([[1.0, 2.0], [3.0, -4.0]]))
    tensor([1.+2.j, 3.-4.j])
    """
    if input.dtype.name not in ("float32", "float64"):
        raise _err(RuntimeError, f"view_as_complex is only supported for float32 and float64 tensors (Ember has "
                                 f"no complex32), got {input.dtype.name}")
    if input.ndim == 0 or input.shape[-1] != 2:
        raise _err(RuntimeError, f"view_as_complex: the tensor must have a last dimension of size 2, got shape "
                                 f"{tuple(input.shape)}")
    return apply("view_as_complex", input)


def _pair(fn, a, b):
    for x in (a, b):
        if x.dtype.name not in ("float32", "float64"):
            raise _err(RuntimeError, f"{fn}: expected both inputs to be float32 or float64 tensors (Ember has no "
                                     f"complex32), got {a.dtype.name} and {b.dtype.name}")
    if a.dtype is not b.dtype:
        raise _err(RuntimeError, f"{fn}: expected both inputs of one dtype, got {a.dtype.name} and {b.dtype.name}")


def complex(real, imag):  # noqa: A001  (torch's name)
    """The complex tensor ``real + i imag`` (float32 parts make complex64, float64 parts complex128; the
    parts broadcast).

    >>> ember.complex(ember.tensor([1.0, 2.0]), ember.tensor([0.5, -1.0]))
    tensor([1.+0.5000j, 2.-1.0000j])
    """
    _pair("complex", real, imag)
    return apply("complex", real, imag)


def polar(abs, angle):  # noqa: A002  (torch's names)
    """The complex tensor with magnitude ``abs`` and phase ``angle``: ``abs * (cos(angle) + i sin(angle))``.

    >>> ember.polar(ember.tensor([2.0]), ember.tensor([0.0]))
    tensor([2.+0.j])
    """
    _pair("polar", abs, angle)
    return apply("complex", abs * angle.cos(), abs * angle.sin())


def angle(input):
    """The phase of each element in radians, in (-pi, pi]: ``atan2(imag, real)`` for complex tensors (a real
    tensor of their precision), 0 / pi / NaN for real ones. The gradient at 0 is 0, as PyTorch's.

    >>> ember.angle(ember.tensor([1j, -1.0 + 0j]))
    tensor([1.5708, 3.1416])
    >>> ember.angle(ember.tensor([-2.0, 0.0, 3.0]))
    tensor([3.1416, 0.0000, 0.0000])
    """
    import math as _math

    if _is_complex(input):
        from .math_extra import atan2

        re, im = apply("real", input), apply("imag", input)
        zero = binary("logical_and", binary("eq", re, 0.0), binary("eq", im, 0.0))
        safe = atan2(where(zero, 0.0, im), where(zero, 1.0, re))  # no 0 / 0 in the gradient at the origin
        return where(zero, atan2(im.detach(), re.detach()), safe)  # atan2's own value there (pi for -0 + 0j)
    x = _float_input(input)
    still_connected = where(isfinite(x), x, 0.0) * 0  # a zero gradient, as PyTorch's (inf * 0 would be NaN)
    half_turn = where(binary("lt", x, 0.0), x._scalar(_math.pi), x._scalar(0.0))  # in x's dtype
    return where(binary("ne", x, x), x, half_turn + still_connected)


def sgn(input):
    """``z / |z|`` for complex tensors (0 at 0); the sign (-1, 0, 1) of real ones, as ``ember.sign``.

    >>> ember.sgn(ember.tensor([3 + 4j, 0j]))
    tensor([0.6000+0.8000j, 0.0000+0.0000j])
    """
    if not _is_complex(input):
        return sign(input)
    m = apply("abs", input)
    zero = binary("eq", m, 0.0)
    return where(zero, 0.0, input / where(zero, 1.0, m))
