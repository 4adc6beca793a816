"""PyTorch's special functions: the front doors to the primitives of ``ops/special.py`` (integer and bool
inputs compute in the default float dtype) and the composites built on them (``mvlgamma``, ``ndtr``,
``log_ndtr``, ``xlog1py``, ``entr``) and ``igamma``/``igammac``. ``TOP_LEVEL`` are the names torch also has at
the top level (``torch.lgamma``); the rest live in ``ember.special`` only, as in torch.

>>> import ember
>>> ember.lgamma(ember.tensor([1.0, 4.0]))
tensor([0.0000, 1.7918])
>>> ember.special.ndtr(ember.tensor([0.0]))
tensor([0.5000])
"""
from __future__ import annotations

import math as _math

from ..errors import mark, with_user_line
from ..ops import apply
from ..tensor import Tensor
from .math import _float_input, _promote_pair, binary, where
from .math_more import _float_pair

TOP_LEVEL = ("lgamma", "digamma", "polygamma", "mvlgamma", "erfinv", "erfc", "i0", "igamma", "igammac")


def _unary(name, doc):
    def fn(input: Tensor) -> Tensor:
        return apply(name, _float_input(input))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


lgamma = _unary("lgamma", """``log |Gamma(x)|``, elementwise (inf at 0 and the negative integers).

    >>> ember.lgamma(ember.tensor([0.5, 3.0, -0.5]))
    tensor([0.5724, 0.6931, 1.2655])
    """)
digamma = _unary("digamma", """The digamma function ``psi(x) = d/dx lgamma(x)`` (-inf at 0, NaN at negative integers).

    >>> ember.digamma(ember.tensor([1.0, 0.5]))
    tensor([-0.5772, -1.9635])
    """)
erfinv = _unary("erfinv", """The inverse error function on [-1, 1] (+-inf at +-1, NaN outside).

    >>> ember.erfinv(ember.tensor([0.0, 0.5, 1.0]))
    tensor([0.0000, 0.4769,    inf])
    """)
erfc = _unary("erfc", """The complementary error function ``1 - erf(x)``, accurate in the far tail.

    >>> ember.erfc(ember.tensor([0.0, 5.0]))
    tensor([1.0000e+00, 1.5375e-12])
    """)
erfcx = _unary("erfcx", """The scaled complementary error function ``exp(x^2) erfc(x)``.

    >>> ember.special.erfcx(ember.tensor([0.0, 100.0]))
    tensor([1.0000, 0.0056])
    """)
ndtri = _unary("ndtri", """The standard normal quantile: ``ndtr(ndtri(p)) == p`` (-inf at 0, inf at 1).

    >>> ember.special.ndtri(ember.tensor([0.5, 0.975]))
    tensor([0.0000, 1.9600])
    """)
i0 = _unary("i0", """The modified Bessel function of the first kind of order 0.

    >>> ember.i0(ember.tensor([0.0, 1.0]))
    tensor([1.0000, 1.2661])
    """)
i0e = _unary("i0e", """``exp(-|x|) i0(x)``, finite for every x.

    >>> ember.special.i0e(ember.tensor([0.0, 1000.0]))
    tensor([1.0000, 0.0126])
    """)
i1 = _unary("i1", """The modified Bessel function of the first kind of order 1.

    >>> ember.special.i1(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 0.5652])
    """)
i1e = _unary("i1e", """``exp(-|x|) i1(x)``, finite for every x.

    >>> ember.special.i1e(ember.tensor([-1.0, 1000.0]))
    tensor([-0.2079,  0.0126])
    """)


def _fail(kind, message):
    return mark(with_user_line(kind(message), 3))


def polygamma(n, input):
    """The n-th derivative of the digamma function (``polygamma(0, x) == digamma(x)``).

    >>> ember.polygamma(1, ember.tensor([1.0]))  # pi^2 / 6
    tensor([1.6449])
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise _fail(TypeError, f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    x = _float_input(input)
    if n < 0:
        raise _fail(RuntimeError, f"polygamma(n, x) does not support negative n (got n={n} for x of shape "
                                  f"{tuple(x.shape)}, {x.dtype.name})")
    return apply("digamma", x) if n == 0 else apply("polygamma", x, n=n)


def mvlgamma(input, p):
    """The log of the multivariate gamma function of dimension ``p``:
    ``p (p - 1) / 4 log(pi) + sum_{j < p} lgamma(x - j / 2)``.

    >>> ember.mvlgamma(ember.tensor([2.5]), 2)
    tensor([0.8570])
    """
    if isinstance(p, bool) or not isinstance(p, int):
        raise _fail(TypeError, f"mvlgamma(): argument 'p' must be int, not {type(p).__name__}")
    if p < 1:
        raise _fail(RuntimeError, f"mvlgamma: p has to be greater than or equal to 1 (got p={p})")
    if input._data.dtype.kind == "b":
        raise _fail(RuntimeError, "mvlgamma: the input tensor may not be a boolean tensor")
    x = _float_input(input)
    total = apply("lgamma", x)
    for j in range(1, p):
        total = total + apply("lgamma", x - j / 2)
    return total + p * (p - 1) / 4 * _math.log(_math.pi)


def ndtr(input):
    """The standard normal CDF, ``erfc(-x / sqrt(2)) / 2`` (keeps its relative accuracy for very negative x).

    >>> ember.special.ndtr(ember.tensor([-1.0, 0.0, 1.0]))
    tensor([0.1587, 0.5000, 0.8413])
    """
    x = _float_input(input)
    return apply("erfc", x * -_math.sqrt(0.5)) * 0.5


def log_ndtr(input):
    """``log(ndtr(x))``, accurate for very negative x (through ``erfcx``) and near 0 for large x (``log1p``).

    >>> ember.special.log_ndtr(ember.tensor([-10.0, 0.0]))
    tensor([-53.2313,  -0.6931])
    """
    x = _float_input(input)
    t = x * _math.sqrt(0.5)
    low = binary("lt", x, -1.0)
    # each branch on inputs where it is finite, so the other's gradient is never 0 * inf
    tl = where(low, t, -1.0)
    th = where(low, 0.0, t)
    left = apply("log", apply("erfcx", -tl) * 0.5) - tl * tl
    right = apply("log1p", apply("erfc", th) * -0.5)
    return where(low, left, right)


def xlog1py(input, other):
    """``input * log1p(other)``, and 0 where ``input`` is 0 (unless ``other`` is NaN).

    >>> ember.special.xlog1py(ember.tensor([0.0, 2.0]), ember.tensor([-1.0, 1.0]))
    tensor([0.0000, 1.3863])
    """
    x, y = _float_pair(input, other) if isinstance(input, Tensor) else reversed(_float_pair(other, input))
    # 0 * log1p(-1) would be 0 * -inf: y is moved off -1 there (the gradient in x is log1p(y), as torch's)
    zero_at_pole = apply("logical_and", binary("eq", x, 0.0), binary("eq", y, -1.0))
    return x * apply("log1p", where(zero_at_pole, 0.0, y))


def entr(input):
    """The elementwise entropy ``-x log(x)``: 0 at 0, -inf for x < 0.

    >>> ember.special.entr(ember.tensor([0.0, 0.5, -1.0]))
    tensor([0.0000, 0.3466,   -inf])
    """
    x = _float_input(input)
    pos = binary("gt", x, 0.0)
    safe = where(pos, x, 1.0)
    body = -x * apply("log", safe)
    rest = where(binary("eq", x, 0.0), 0.0, where(binary("ne", x, x), x, float("-inf")))
    return where(pos, body, rest)


def zeta(input, other):
    """The Hurwitz zeta function ``sum_k (other + k) ** -input`` (the Riemann zeta at ``other == 1``).
    Not differentiable (as in PyTorch).

    >>> ember.special.zeta(ember.tensor([2.0]), 1.0)  # pi^2 / 6
    tensor([1.6449])
    """
    x, q = _float_pair(input, other) if isinstance(input, Tensor) else reversed(_float_pair(other, input))
    return apply("zeta", *_promote_pair(x, q))  # one dtype (a 0-d operand does not widen the other)


def _igamma(name, input, other):
    a, x = _float_pair(input, other) if isinstance(input, Tensor) else reversed(_float_pair(other, input))
    return apply(name, *_promote_pair(a, x))


def igamma(input, other):
    """The regularized lower incomplete gamma function ``P(a, x) = gamma(a, x) / Gamma(a)`` with ``a = input``
    and ``x = other`` (also ``ember.special.gammainc``). Differentiable in ``other`` only, as in PyTorch (the
    gradient with respect to ``input`` raises); edge values as PyTorch's: NaN for negative arguments and at
    ``a = x = 0``, 1 at ``a = 0`` and at ``x = inf``, 0 at ``x = 0`` and at ``a = inf``.

    >>> ember.igamma(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 3.0]))
    tensor([0.6321, 0.8009])
    """
    return _igamma("igamma", input, other)


def igammac(input, other):
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)`` (also
    ``ember.special.gammaincc``), computed directly in the upper tail, so small values keep their digits.

    >>> ember.igammac(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 30.0]))
    tensor([3.6788e-01, 2.9009e-12])
    """
    return _igamma("igammac", input, other)
