"""torch's remaining top-level products and distances (``kron``, ``tensordot``, ``cdist``, ``cross``, ``trace``,
``addr``, ``matrix_power`` ...), as composites of ``matmul``, ``einsum`` and elementwise primitives.

>>> import ember
>>> ember.kron(ember.tensor([[1, 2]]), ember.tensor([[1], [10]]))
tensor([[ 1,  2],
        [10, 20]])
"""
from __future__ import annotations

import math as _math

from ..errors import mark, with_user_line
from ..ops import apply
from ..tensor import Tensor
from .math import binary, isfinite, where
from .shape import stack


def _err(kind, message):
    return mark(with_user_line(kind(message), 3))


def trace(input):
    """The sum of the main diagonal of a 2-D tensor.

    >>> ember.trace(ember.tensor([[1, 2], [3, 4]]))
    tensor(5)
    """
    if input.ndim != 2:
        raise _err(RuntimeError, f"trace: expected a 2-D tensor, got shape {tuple(input.shape)}")
    return input.diagonal().sum()


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` of the planes spanned by ``dim1`` and ``dim2``, as a last dim.

    >>> ember.diagonal(ember.tensor([[1, 2], [3, 4]]), 1)
    tensor([2])
    """
    return input.diagonal(offset, dim1, dim2)


def cross(input, other, dim=None):
    """The 3-vector cross product along ``dim`` (by default the first dim of size 3, as ``torch.cross``).

    >>> ember.cross(ember.tensor([1.0, 0.0, 0.0]), ember.tensor([0.0, 1.0, 0.0]))
    tensor([0., 0., 1.])
    """
    a, b = (input, other) if tuple(input.shape) == tuple(other.shape) else _broadcast(input, other)
    if dim is None:
        dim = next((d for d, s in enumerate(a.shape) if s == 3), None)
        if dim is None:
            raise _err(RuntimeError, f"cross: no dim of size 3 in shape {tuple(a.shape)}")
    if a.shape[dim] != 3:
        raise _err(RuntimeError, f"cross: dim {dim} of shape {tuple(a.shape)} has size {a.shape[dim]}, not 3")
    a0, a1, a2 = a.unbind(dim)
    b0, b1, b2 = b.unbind(dim)
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


def _broadcast(a, b):
    from .shape import broadcast_tensors

    return broadcast_tensors(a, b)


def kron(input, other):
    """The Kronecker product: every element of ``input`` times the whole of ``other``.

    >>> ember.kron(ember.eye(2), ember.tensor([[1.0, 2.0]]))
    tensor([[1., 2., 0., 0.],
            [0., 0., 1., 2.]])
    """
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    # interleave: a's dims at even places, b's at odd, then merge each pair
    spread_a = a.reshape([s for d in a.shape for s in (d, 1)])
    spread_b = b.reshape([s for d in b.shape for s in (1, d)])
    return (spread_a * spread_b).reshape([x * y for x, y in zip(a.shape, b.shape)])


def tensordot(a, b, dims=2):
    """Contract the last ``dims`` dims of ``a`` with the first ``dims`` of ``b`` (or the dim lists given).

    >>> ember.tensordot(ember.ones(2, 3), ember.ones(3, 4), dims=1).shape
    ember.Size([2, 4])
    """
    if isinstance(dims, int):
        if dims < 0:
            raise _err(RuntimeError, f"tensordot: dims must be non-negative, got {dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    da, db = [d % a.ndim for d in da], [d % b.ndim for d in db]
    if len(da) != len(db) or any(a.shape[i] != b.shape[j] for i, j in zip(da, db)):
        raise _err(RuntimeError, f"tensordot: cannot contract dims {da} of {tuple(a.shape)} with {db} of "
                                 f"{tuple(b.shape)}")
    keep_a = [d for d in range(a.ndim) if d not in da]
    keep_b = [d for d in range(b.ndim) if d not in db]
    k = _math.prod(a.shape[d] for d in da)
    left = a.permute(*(keep_a + da)).reshape(-1, k)
    right = b.permute(*(db + keep_b)).reshape(k, -1)
    return (left @ right).reshape([a.shape[d] for d in keep_a] + [b.shape[d] for d in keep_b])


def inner(input, other):
    """The inner product over the last dims (a product with a number for 0-D operands).

    >>> ember.inner(ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]))
    tensor(11.)
    """
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    return tensordot(input, other, ([-1], [-1]))


def vdot(input, other):
    """The dot product of two 1-D tensors, the first conjugated.

    >>> ember.vdot(ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]))
    tensor(11.)
    """
    from .linalg import dot

    return dot(input.conj(), other)


def cdist(x1, x2, p=2.0, compute_mode=None):
    """Pairwise ``p``-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M).

    >>> ember.cdist(ember.tensor([[0.0, 0.0]]), ember.tensor([[3.0, 4.0], [0.0, 0.0]]))
    tensor([[5., 0.]])
    """
    if x1.shape[-1] != x2.shape[-1]:
        raise _err(RuntimeError, f"cdist: x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} differ in the last "
                                 "(feature) dim")
    if p < 0:
        raise _err(RuntimeError, f"cdist: p must be non-negative, got {p}")
    gap = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs()  # (..., P, R, M)
    last = gap.ndim - 1
    if p == 0:  # a count: its gradient is zero, but it is one (a zero sum of gap keeps the graph, as PyTorch)
        count = apply("sum", apply("cast", binary("ne", gap, 0), dtype=gap.dtype.name), axis=(last,), keepdims=False)
        return count + apply("sum", gap * 0, axis=(last,), keepdims=False)
    if p == float("inf"):
        return apply("amax", gap, axis=(last,), keepdims=False)
    if p == 1:
        return apply("sum", gap, axis=(last,), keepdims=False)
    total = apply("sum", gap ** p, axis=(last,), keepdims=False)
    zero = binary("eq", total, 0)
    # a zero distance has no derivative in its root: read it as 0 (PyTorch's cdist gradient there)
    return where(zero, 0.0, where(zero, 1.0, total) ** (1.0 / p))


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``.

    >>> ember.addr(ember.zeros(2, 2), ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]))
    tensor([[3., 4.],
            [6., 8.]])
    """
    prod = vec1.unsqueeze(1) * vec2.unsqueeze(0)
    return _scaled_sum(input, prod, beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_i batch1[i] @ batch2[i]``.

    >>> ember.addbmm(ember.zeros(2, 2), ember.ones(3, 2, 1), ember.ones(3, 1, 2))
    tensor([[3., 3.],
            [3., 3.]])
    """
    return _scaled_sum(input, (batch1 @ batch2).sum(0), beta, alpha)


def _scaled_sum(input, prod, beta, alpha):
    prod = prod if alpha == 1 else prod * alpha
    if beta == 0:  # as PyTorch: input's values (NaN included) are ignored
        return prod
    return prod + (input if beta == 1 else input * beta)


def matrix_power(input, n):
    """``input`` multiplied by itself ``n`` times (the identity for 0, the inverse's power for negative ``n``).

    >>> ember.matrix_power(ember.tensor([[1.0, 1.0], [0.0, 1.0]]), 3)
    tensor([[1., 3.],
            [0., 1.]])
    """
    from ..creation import eye

    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise _err(RuntimeError, f"matrix_power: expected square matrices, got shape {tuple(input.shape)}")
    if n < 0:
        from .math_extra import inverse

        input, n = inverse(input), -n
    result, base = None, input
    while n:  # square and multiply
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    if result is None:  # the identity, still connected to input (a zero gradient, as PyTorch's)
        ident = eye(input.shape[-1], dtype=input.dtype, device=input.device).expand(*input.shape)
        return ident + where(isfinite(input), input, 0.0) * 0
    return result


def chain_matmul(*matrices):
    """The product of 2-D matrices, left to right (``linalg.multi_dot``'s older name).

    >>> ember.chain_matmul(ember.eye(2), ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[1., 2.],
            [3., 4.]])
    """
    ms = tuple(matrices[0]) if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)) else matrices
    if not ms or any(not isinstance(m, Tensor) or m.ndim != 2 for m in ms):
        raise _err(RuntimeError, "chain_matmul: expected one or more 2-D tensors")
    out = ms[0]
    for m in ms[1:]:
        out = out @ m
    return out


def adjoint(input):
    """The conjugate transpose of the last two dims (the transpose of a real tensor).

    >>> ember.adjoint(ember.tensor([[1, 2], [3, 4]]))
    tensor([[1, 3],
            [2, 4]])
    """
    return input.mT.conj()


def dist(input, other, p=2):
    """The ``p``-norm of ``input - other`` (broadcast), as one number.

    >>> ember.dist(ember.tensor([0.0, 0.0]), ember.tensor([3.0, 4.0]))
    tensor(5.)
    """
    gap = (input - other).reshape(1, -1)
    return cdist(gap, gap.new_zeros(1, gap.shape[1]) if gap.shape[1] else gap, p=p).reshape(())
