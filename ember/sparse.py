"""Sparse-tensor names programs call (``torch.sparse_coo_tensor``, ``x.to_sparse()``, ``torch.spmm``,
``torch.sparse.mm``), with dense storage.

Ember has no sparse layout yet. These functions give the values PyTorch gives (duplicate COO entries are
summed, as ``coalesce`` does) but hold them in an ordinary dense tensor, so memory is that of the dense matrix
and ``spmm`` is a dense matmul. The first call in a process warns once saying so; gradients flow as through
any dense op.

>>> import ember
>>> a = ember.sparse_coo_tensor([[0, 1, 1], [2, 0, 0]], [3.0, 4.0, 5.0], (2, 3))
>>> a
tensor([[0., 0., 3.],
        [9., 0., 0.]])
>>> ember.spmm(a, ember.ones(3, 1))
tensor([[3.],
        [9.]])
"""
from __future__ import annotations

import warnings

from . import creation
from .functional.linalg import mm as _dense_mm
from .tensor import Tensor

__all__ = ["sparse_coo_tensor", "spmm", "mm", "sum", "to_sparse", "to_dense", "coalesce"]

_WARNED = [False]


def _warn_dense(what):
    if not _WARNED[0]:
        _WARNED[0] = True
        warnings.warn(f"{what}: Ember has no sparse layout yet; the tensor is kept dense (the same values, the "
                      "dense matrix's memory, dense matmuls)", UserWarning, stacklevel=3)


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, requires_grad=False,
                      check_invariants=None, is_coalesced=None):
    """``torch.sparse_coo_tensor``: the tensor whose entries at ``indices`` (ndim x nnz) are ``values`` (nnz, or
    nnz x dense dims), duplicates summed; held dense (see the module's note).

    >>> import ember
    >>> ember.sparse_coo_tensor([[0, 0], [1, 1]], [1.0, 2.0], (1, 2))
    tensor([[0., 3.]])
    """
    _warn_dense("sparse_coo_tensor")
    indices = indices if isinstance(indices, Tensor) else creation.tensor(indices)
    values = values if isinstance(values, Tensor) else creation.tensor(values)
    if indices.ndim != 2:
        raise ValueError(f"sparse_coo_tensor: indices must be 2-D (ndim x nnz), got shape {tuple(indices.shape)}")
    if indices.shape[1] != values.shape[0]:
        raise ValueError(f"sparse_coo_tensor: {indices.shape[1]} index columns but {values.shape[0]} values; "
                         "indices is (ndim x nnz) and values (nnz, ...)")
    sparse_dims = indices.shape[0]
    if size is None:  # torch: the smallest size holding every index
        size = tuple(int(m) + 1 for m in indices.max(1).values.tolist()) + tuple(values.shape[1:])
    size = tuple(int(s) for s in size)
    dtype = dtype or values.dtype
    out = creation.zeros(size, dtype=dtype, device=device or values.device)
    where = tuple(indices[d].long() for d in range(sparse_dims))
    out = out.index_put(where, values.to(dtype), accumulate=True)
    return out.requires_grad_(True) if requires_grad else out


def to_sparse(input, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """``Tensor.to_sparse``: the same values, held dense (see the module's note)."""
    _warn_dense("to_sparse")
    return input


def to_dense(input, dtype=None, *, masked_grad=None):
    """``Tensor.to_dense``: Ember tensors are dense already; ``dtype`` converts."""
    return input if dtype is None else input.to(dtype)


def coalesce(input):
    """``Tensor.coalesce``: a dense tensor is its own coalesced form."""
    return input


def spmm(input, mat2):
    """``torch.spmm`` / ``torch.sparse.mm``: the matrix product (dense here; see the module's note).

    >>> import ember
    >>> ember.spmm(ember.eye(2), ember.tensor([[1.0], [2.0]]))
    tensor([[1.],
            [2.]])
    """
    return _dense_mm(input, mat2)


mm = spmm


def sum(input, dim=None, dtype=None):  # noqa: A001 - torch.sparse.sum's name
    """``torch.sparse.sum``: the sum over ``dim`` (all dims when None)."""
    out = input.sum() if dim is None else input.sum(dim)
    return out if dtype is None else out.to(dtype)


def install(tensor_cls) -> None:
    """The Tensor methods: ``to_sparse``, ``to_sparse_coo``, ``to_dense``, ``coalesce``."""
    for name, fn in {"to_sparse": to_sparse, "to_sparse_coo": to_sparse, "to_dense": to_dense,
                     "coalesce": coalesce}.items():
        if not hasattr(tensor_cls, name):
            setattr(tensor_cls, name, fn)
