"""Matrix products (composites of the matmul / einsum primitives) and softmax-family functions."""
from __future__ import annotations

from .._autocast import autocast_op
from ..errors import mark, with_user_line
from ..ops import apply, composite
from .math import _promote_pair
from .reduce import _axes, logsumexp


@autocast_op
def matmul(input, other):
    return _matmul(input, other)


def _matmul(input, other):  # not autocast: for mv and dot, which autocast lists differently from matmul
    if input._data.dtype != other._data.dtype and input.dtype.category == other.dtype.category:
        input, other = _promote_pair(input, other)
    return apply("matmul", input, other)


@autocast_op
def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise mark(with_user_line(RuntimeError(
            f"mm: expected 2-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}; use matmul "
            "for batched or 1-D operands"), 2))
    return matmul(input, mat2)


@autocast_op
def bmm(input, mat2):
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise mark(with_user_line(RuntimeError(
            f"bmm: expected 3-D tensors with the same batch size, got {tuple(input.shape)} and "
            f"{tuple(mat2.shape)}"), 2))
    return matmul(input, mat2)


@autocast_op
def mv(input, vec):
    return _matmul(input, vec)


@autocast_op
def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise mark(with_user_line(RuntimeError(
            f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors"), 2))
    return _matmul(input, other)


def outer(input, vec2):
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


def einsum(equation, *operands):
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
    dim = _default_dim(input, dim, "softmax")
    (axis,) = _axes(input, dim, "softmax") if input.ndim else (0,)
    if not input._data.size:  # nothing to normalise (NumPy's max of a size-0 axis has no value)
        return input * 1
    return apply("softmax", input, axis=axis)


@autocast_op
def log_softmax(input, dim=None, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    dim = _default_dim(input, dim, "log_softmax")
    (axis,) = _axes(input, dim, "log_softmax") if input.ndim else (0,)
    return _log_softmax(input, axis=axis)


@composite("log_softmax")
def _log_softmax(input, axis):
    """x - logsumexp(x) along ``axis`` (the ``log_softmax`` layer op's eager composite)."""
    return input - logsumexp(input, axis, keepdim=True)


def _default_dim(x, dim, name):
    if dim is None:  # PyTorch's legacy implicit choice, made explicit
        dim = 0 if x.ndim in (0, 1, 3) else 1
    return dim
