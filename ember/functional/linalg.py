"""Matrix products (composites of the matmul / einsum primitives) and softmax-family functions."""
from __future__ import annotations

from .._autocast import autocast_op
from ..errors import mark, with_user_line
from ..ops import apply, composite
from .math import _promote_pair
from .reduce import _axes, logsumexp


@autocast_op
def matmul(input, other):
    """The matrix product with NumPy/PyTorch's rules: vector-vector is a dot product, a vector is treated as a
    row/column and its dim dropped afterwards, and leading (batch) dims broadcast.

    >>> ember.matmul(ember.tensor([[1.0, 2.0], [3.0, 4.0]]), ember.tensor([1.0, 1.0]))
    tensor([3., 7.])
    >>> ember.matmul(ember.ones(5, 2, 3), ember.ones(3, 4)).shape
    ember.Size([5, 2, 4])
    """
    return _matmul(input, other)


def _matmul(input, other):  # not autocast: for mv and dot, which autocast lists differently from matmul
    if input._data.dtype != other._data.dtype and input.dtype.category == other.dtype.category:
        input, other = _promote_pair(input, other)
    return apply("matmul", input, other)


@autocast_op
def mm(input, mat2):
    """The product of two 2-D matrices (no broadcasting; see ``matmul``).

    >>> ember.mm(ember.tensor([[1.0, 2.0]]), ember.tensor([[3.0], [4.0]]))
    tensor([[11.]])
    """
    if input.ndim != 2 or mat2.ndim != 2:
        raise mark(with_user_line(RuntimeError(
            f"mm: expected 2-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}; use matmul "
            "for batched or 1-D operands"), 2))
    return matmul(input, mat2)


@autocast_op
def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p) tensors.

    >>> ember.bmm(ember.ones(3, 2, 4), ember.ones(3, 4, 5)).shape
    ember.Size([3, 2, 5])
    """
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise mark(with_user_line(RuntimeError(
            f"bmm: expected 3-D tensors with the same batch size, got {tuple(input.shape)} and "
            f"{tuple(mat2.shape)}"), 2))
    return matmul(input, mat2)


@autocast_op
def mv(input, vec):
    """The product of a 2-D matrix and a 1-D vector.

    >>> ember.mv(ember.tensor([[1.0, 2.0], [3.0, 4.0]]), ember.tensor([1.0, -1.0]))
    tensor([-1., -1.])
    """
    return _matmul(input, vec)


@autocast_op
def dot(input, other):
    """The inner product of two 1-D tensors (a 0-d tensor).

    >>> ember.dot(ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]))
    tensor(11.)
    """
    if input.ndim != 1 or other.ndim != 1:
        raise mark(with_user_line(RuntimeError(
            f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors"), 2))
    return _matmul(input, other)


def outer(input, vec2):
    """The outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``.

    >>> ember.outer(ember.tensor([1, 2]), ember.tensor([1, 10, 100]))
    tensor([[  1,  10, 100],
            [  2,  20, 200]])
    """
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


def einsum(equation, *operands):
    """Einstein summation over the operands, following the subscripts in ``equation``.

    >>> a, b = ember.ones(2, 3), ember.ones(3, 4)
    >>> ember.einsum("ij,jk->ik", a, b)
    tensor([[3., 3., 3., 3.],
            [3., 3., 3., 3.]])
    >>> ember.einsum("ii", ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor(5.)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return apply("einsum", *operands, equation=equation)


@autocast_op
def softmax(input, dim=None, dtype=None):
    """exp(x - max(x)) / sum(exp(x - max(x))) along ``dim`` (the ``softmax`` primitive).

    Example:
        >>> import ember
        >>> ember.softmax(ember.tensor([[0.0, 0.0], [0.0, 1e4]]), dim=1)
        tensor([[0.5000, 0.5000],
                [0.0000, 1.0000]])
    """
    if dtype is not None:
        input = input.to(dtype)
    _require_float(input, "softmax")
    dim = _default_dim(input, dim, "softmax")
    (axis,) = _axes(input, dim, "softmax") if input.ndim else (0,)
    if not input._data.size:  # nothing to normalise (NumPy's max of a size-0 axis has no value)
        return input * 1
    return apply("softmax", input, axis=axis)


@autocast_op
def log_softmax(input, dim=None, dtype=None):
    """``log(softmax(x))`` along ``dim``, computed stably.

    >>> ember.log_softmax(ember.tensor([0.0, 0.0]), dim=0)
    tensor([-0.6931, -0.6931])
    """
    if dtype is not None:
        input = input.to(dtype)
    _require_float(input, "log_softmax")
    dim = _default_dim(input, dim, "log_softmax")
    (axis,) = _axes(input, dim, "log_softmax") if input.ndim else (0,)
    if input._data.dtype.itemsize < 4:  # float16/bfloat16: in float32, rounded once, as PyTorch's CPU kernel
        return _log_softmax(input.float(), axis=axis).to(input.dtype)  # (logsumexp in float16 is 0.5% off)
    return _log_softmax(input, axis=axis)


@composite("log_softmax")
def _log_softmax(input, axis):
    """x - logsumexp(x) along ``axis`` (the ``log_softmax`` layer op's eager composite)."""
    return input - logsumexp(input, axis, keepdim=True)


def _require_float(x, name):
    """PyTorch's softmaxes refuse integer and bool tensors (there is no integer probability); say how to ask."""
    if not x.is_floating_point():
        raise mark(with_user_line(TypeError(
            f"{name}: expected a floating-point input, got {x.dtype.name} of shape {tuple(x.shape)}; pass "
            f"dtype=ember.float32 or convert it with x.float()"), 3))


def _default_dim(x, dim, name):
    if dim is None:  # PyTorch's legacy implicit choice, made explicit
        dim = 0 if x.ndim in (0, 1, 3) else 1
    return dim
