"""More of torch's top-level math: inverse trigonometric and hyperbolic functions, ``atan2``, the fused
multiply-adds (``addmm``, ``addmv``, ``baddbmm``), ``diag``/``diag_embed``, ``det``/``inverse``/``logdet``,
and ``select``. Composites over the primitives (``ember/ops/math_extra.py``,
``ember/ops/decomp.py``); no backward code here.

>>> import ember
>>> ember.atan2(ember.tensor([1.0]), ember.tensor([-1.0]))
tensor([2.3562])
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import mark, with_user_line
from ..ops import apply
from ..tensor import Tensor
from .math import _promoted_dtype, _unary, binary, cast

asin = _unary("asin", """The arcsine of each element, in radians (``arcsin`` is the same function).

    >>> ember.asin(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 1.5708])
    """)
acos = _unary("acos", """The arccosine of each element, in radians (``arccos`` is the same function).

    >>> ember.acos(ember.tensor([1.0, 0.0]))
    tensor([0.0000, 1.5708])
    """)
atan = _unary("atan", """The arctangent of each element, in radians (``arctan`` is the same function).

    >>> ember.atan(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7854])
    """)
sinh = _unary("sinh", """The hyperbolic sine, elementwise.

    >>> ember.sinh(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 1.1752])
    """)
cosh = _unary("cosh", """The hyperbolic cosine, elementwise.

    >>> ember.cosh(ember.tensor([0.0, 1.0]))
    tensor([1.0000, 1.5431])
    """)
asinh = _unary("asinh", """The inverse hyperbolic sine, elementwise (``arcsinh`` is the same function).

    >>> ember.asinh(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8814])
    """)
acosh = _unary("acosh", """The inverse hyperbolic cosine, elementwise (NaN below 1; ``arccosh`` is the same function).

    >>> ember.acosh(ember.tensor([1.0, 2.0]))
    tensor([0.0000, 1.3170])
    """)
atanh = _unary("atanh", """The inverse hyperbolic tangent, elementwise (``arctanh`` is the same function).

    >>> ember.atanh(ember.tensor([0.0, 0.5]))
    tensor([0.0000, 0.5493])
    """)
for _fn in (asin, acos, atan, sinh, cosh, asinh, acosh, atanh):
    _fn.__module__ = __name__  # so functional.PUBLIC exports them as this module's


def atan2(input, other):
    """The angle of the point (other, input) in radians, in (-pi, pi] (``torch.atan2``).

    >>> ember.atan2(ember.tensor([1.0, -1.0]), ember.tensor([0.0, -1.0]))
    tensor([ 1.5708, -2.3562])
    """
    kind = _promoted_dtype(input, other)  # PyTorch promotes first: an int with a float16 tensor is float16
    kind = kind if dtypes.is_float(kind.np) else dtypes.get_default_dtype()
    input, other = (cast(v, kind) if isinstance(v, Tensor) else v for v in (input, other))
    return binary("atan2", input, other)


arcsin, arccos, arctan, arcsinh, arccosh, arctanh, arctan2 = asin, acos, atan, asinh, acosh, atanh, atan2


def _check_ndim(name, **tensors):
    for what, (t, nd) in tensors.items():
        if t.ndim != nd:
            raise mark(with_user_line(RuntimeError(
                f"{name}: {what} must be a {nd}-D tensor, got shape {tuple(t.shape)}; use ember.matmul (or "
                "baddbmm for batches of matrices) for other ranks"), 3))


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)`` (``torch.addmm``); ``input`` broadcasts to the product.

    >>> ember.addmm(ember.ones(2, 2), ember.eye(2), ember.tensor([[1.0, 2.0], [3.0, 4.0]]), beta=0.5)
    tensor([[1.5000, 2.5000],
            [3.5000, 4.5000]])
    """
    _check_ndim("addmm", mat1=(mat1, 2), mat2=(mat2, 2))
    return _scaled_sum(input, mat1 @ mat2, beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)`` (``torch.addmv``).

    >>> ember.addmv(ember.tensor([1.0, 1.0]), ember.eye(2), ember.tensor([2.0, 3.0]), alpha=2)
    tensor([5., 7.])
    """
    _check_ndim("addmv", mat=(mat, 2), vec=(vec, 1))
    return _scaled_sum(input, mat @ vec, beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * (batch1 @ batch2)`` over a batch of matrices (``torch.baddbmm``).

    >>> ember.baddbmm(ember.zeros(3, 2, 4), ember.ones(3, 2, 5), ember.ones(3, 5, 4)).shape
    ember.Size([3, 2, 4])
    """
    _check_ndim("baddbmm", batch1=(batch1, 3), batch2=(batch2, 3))
    return _scaled_sum(input, batch1 @ batch2, beta, alpha)


def _scaled_sum(input, product, beta, alpha):
    product = product if alpha == 1 else product * alpha
    if beta == 0:  # like PyTorch, beta=0 ignores input's values (NaN in it does not propagate), not its shape
        return product.expand(*np.broadcast_shapes(tuple(input.shape), tuple(product.shape)))
    return product + (input if beta == 1 else input * beta)


def diag(input, diagonal=0):
    """A 1-D input's square matrix with it on a diagonal, or a 2-D input's diagonal (``torch.diag``).

    >>> ember.diag(ember.tensor([1, 2]))
    tensor([[1, 0],
            [0, 2]])
    >>> ember.diag(ember.tensor([[1, 2], [3, 4]]))
    tensor([1, 4])
    """
    if input.ndim not in (1, 2):
        raise mark(with_user_line(RuntimeError(
            f"diag: expected a 1-D or 2-D tensor, got shape {tuple(input.shape)}; use diagonal() or "
            "diag_embed() for batches"), 2))
    return input.diag(diagonal)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Batches of diagonal matrices from the last dim of ``input`` (``torch.diag_embed``, offset 0 only).

    >>> ember.diag_embed(ember.tensor([[1, 2], [3, 4]])).shape
    ember.Size([2, 2, 2])
    """
    if offset != 0 or (dim1, dim2) != (-2, -1):
        raise mark(with_user_line(NotImplementedError(
            "diag_embed: only offset=0, dim1=-2, dim2=-1 are supported; build other layouts with movedim"), 2))
    from ..creation import eye

    n = input.shape[-1]
    on_diagonal = eye(n, dtype=dtypes.bool_, device=input.device)  # picked, not multiplied: a NaN stays put
    return apply("where", on_diagonal, input.unsqueeze(-1), cast(input._scalar(0), input.dtype))


def det(input):
    """The determinant of a square matrix or of each in a batch (``torch.det``).

    >>> ember.det(ember.tensor([[2.0, 1.0], [1.0, 3.0]]))
    tensor(5.)
    """
    from .. import linalg

    return linalg.det(input)


def logdet(input):
    """``log(det(A))``: NaN for a negative determinant, -inf for a singular matrix (``torch.logdet``).

    >>> ember.logdet(ember.tensor([[2.0, 0.0], [0.0, 3.0]]))
    tensor(1.7918)
    """
    return det(input).log()


def inverse(input):
    """The inverse of a square matrix or of each in a batch (``torch.inverse``).

    >>> ember.inverse(ember.tensor([[2.0, 0.0], [0.0, 4.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]])
    """
    from .. import linalg

    return linalg.inv(input)


def select(input, dim, index):
    """``input`` indexed at ``index`` along ``dim``, which is removed (``torch.select``; a view in PyTorch).

    >>> ember.select(ember.tensor([[1, 2], [3, 4]]), 1, 0)
    tensor([1, 3])
    """
    nd = input.ndim
    if not -nd <= dim < nd:
        raise mark(with_user_line(IndexError(
            f"select: dim {dim} is out of range for a tensor of shape {tuple(input.shape)} (expected a dim "
            f"in [{-nd}, {nd - 1}])"), 2))
    size = input.shape[dim]
    if not -size <= index < size:
        raise mark(with_user_line(IndexError(
            f"select: index {index} is out of range for dimension {dim} of size {size}; use an index in "
            f"[{-size}, {size - 1}]"), 2))
    return input[(slice(None),) * (dim % nd) + (index,)]


def bitwise_and(input, other):
    """Bitwise AND of integer (or bool) tensors; a Python int broadcasts.

    >>> ember.bitwise_and(ember.tensor([12, -1, 5]), 6)
    tensor([4, 6, 4])
    """
    return binary("bitwise_and", input, other)


def bitwise_or(input, other):
    """Bitwise OR of integer (or bool) tensors.

    >>> ember.bitwise_or(ember.tensor([12, 1]), ember.tensor([3, 2]))
    tensor([15,  3])
    """
    return binary("bitwise_or", input, other)


def bitwise_xor(input, other):
    """Bitwise XOR of integer (or bool) tensors.

    >>> ember.bitwise_xor(ember.tensor([12, 1]), ember.tensor([10, 1]))
    tensor([6, 0])
    """
    return binary("bitwise_xor", input, other)


def bitwise_not(input):
    """Bitwise NOT (two's complement: ``~x == -x - 1``); logical NOT on bool tensors.

    >>> ember.bitwise_not(ember.tensor([0, 5, -3]))
    tensor([-1, -6,  2])
    """
    return apply("bitwise_not", input)


def bitwise_left_shift(input, other):
    """``input << other`` elementwise on integer tensors.

    >>> ember.bitwise_left_shift(ember.tensor([1, 3]), 2)
    tensor([ 4, 12])
    """
    return binary("bitwise_left_shift", input, other)


def bitwise_right_shift(input, other):
    """``input >> other`` elementwise on integer tensors (arithmetic: the sign is kept).

    >>> ember.bitwise_right_shift(ember.tensor([16, -16]), 2)
    tensor([ 4, -4])
    """
    return binary("bitwise_right_shift", input, other)
