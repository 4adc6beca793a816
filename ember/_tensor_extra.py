"""More PyTorch Tensor methods (inverse trig/hyperbolic, linear algebra, ``select``, ``unfold``, ``stride``,
in-place ``unsqueeze_``/``squeeze_``/``index_add_`` ...), installed onto ``Tensor`` by ``install()``.

Kept apart from ``_tensor_methods.py`` so the core method table stays small; ``install`` never replaces a
method the core already defines.

>>> import ember
>>> x = ember.arange(6.0)
>>> x.unfold(0, 2, 2)
tensor([[0., 1.],
        [2., 3.],
        [4., 5.]])
"""
from __future__ import annotations

from .errors import mark, with_user_line

math_extra = linalg = _where = arange = index_add = None  # installed by ember/_wiring.py (pieces of higher layers)


def _fx():
    return math_extra


def _unary(name):
    def method(self):
        return getattr(_fx(), name)(self)

    method.__name__ = name
    method.__doc__ = f"See ``ember.{name}``."
    return method


def _inplace_unary(name):
    def method(self):
        if self._data.dtype.kind != "f":
            raise mark(with_user_line(RuntimeError(
                f"{name}_: result type float can't be cast to the desired output type {self.dtype.name}; use "
                f"x = x.{name}() (or convert x with .float() first)"), 2))
        return self._inplace(name)

    method.__name__ = name + "_"
    return method


def atan2(self, other):
    return _fx().atan2(self, other)


def addmm(self, mat1, mat2, *, beta=1, alpha=1):
    return _fx().addmm(self, mat1, mat2, beta=beta, alpha=alpha)


def addmv(self, mat, vec, *, beta=1, alpha=1):
    return _fx().addmv(self, mat, vec, beta=beta, alpha=alpha)


def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
    return _fx().baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)


def det(self):
    return _fx().det(self)


def logdet(self):
    return _fx().logdet(self)


def inverse(self):
    return _fx().inverse(self)


def cholesky(self, upper=False):
    return linalg.cholesky(self, upper=upper)


def lu(self, pivot=True, get_infos=False):
    """See ``ember.lu``."""
    return linalg.legacy_lu(self, pivot, get_infos)


def lu_solve(self, LU_data, LU_pivots):
    """See ``ember.lu_solve``."""
    return linalg.lu_solve(LU_data, LU_pivots, self)


def matrix_exp(self):
    """See ``ember.matrix_exp``."""
    return linalg.matrix_exp(self)


def cholesky_inverse(self, upper=False):
    """See ``ember.cholesky_inverse``."""
    return linalg.cholesky_inverse(self, upper)


def cholesky_solve(self, input2, upper=False):
    """See ``ember.cholesky_solve``."""
    return linalg.cholesky_solve(self, input2, upper)


def triangular_solve(self, A, upper=True, transpose=False, unitriangular=False):
    """See ``ember.triangular_solve``."""
    return linalg.triangular_solve(self, A, upper, transpose, unitriangular)


def qr(self, some=True):
    """See ``ember.qr``."""
    return linalg.legacy_qr(self, some)


def svd(self, some=True, compute_uv=True):
    """See ``ember.svd``."""
    return linalg.legacy_svd(self, some, compute_uv)


def slogdet(self):
    """See ``ember.slogdet``."""
    return linalg.slogdet(self)


def pinverse(self, rcond=1e-15):
    """See ``ember.pinverse``."""
    return linalg.pinverse(self, rcond)


def ger(self, vec2):
    """See ``ember.ger`` (``outer``)."""
    return self.outer(vec2)


def diag_embed(self, offset=0, dim1=-2, dim2=-1):
    return _fx().diag_embed(self, offset, dim1, dim2)


def select(self, dim, index):
    return _fx().select(self, dim, index)


def where(self, condition, other):
    """``ember.where(condition, self, other)`` (PyTorch's ``x.where(cond, y)``)."""
    return _where(condition, self, other)


def unfold(self, dimension, size, step):
    """All windows of ``size`` elements along ``dimension``, ``step`` apart, as a new last dim (the tensor
    method ``Tensor.unfold``, not ``nn.functional.unfold``)."""
    nd = max(self.ndim, 1)
    if not -nd <= dimension < nd:
        raise mark(with_user_line(IndexError(
            f"unfold: dimension {dimension} is out of range for a tensor of shape {tuple(self.shape)}"), 2))
    x = self.reshape(1) if self.ndim == 0 else self
    dim = dimension % nd
    length = x.shape[dim]
    if size > length or size < 0 or step <= 0:
        raise mark(with_user_line(RuntimeError(
            f"unfold: cannot take windows of size {size} with step {step} from dimension {dim} of size "
            f"{length} (need 0 <= size <= {length} and step > 0); use a smaller window or pad the tensor first "
            "(F.pad)"), 2))
    count = (length - size) // step + 1
    starts = arange(count, device=x.device) * step
    idx = (starts.reshape(-1, 1) + arange(size, device=x.device).reshape(1, -1)).reshape(-1)
    windows = x.index_select(dim, idx)
    shape = tuple(x.shape[:dim]) + (count, size) + tuple(x.shape[dim + 1:])
    return windows.reshape(*shape).movedim(dim + 1, -1)


def stride(self, dim=None):
    """Strides in elements, as the array lies in memory (a transposed view's are swapped, a broadcast dim's 0);
    the row-major strides ``contiguous()`` would give where NumPy's view runs backwards (a negative stride,
    which PyTorch's tensors cannot have)."""
    shape = tuple(self.shape)
    item = self._data.dtype.itemsize
    real = getattr(self._data, "strides", None)
    if real is not None and all(s >= 0 and s % item == 0 for s in real):
        strides = tuple(s // item for s in real)
        return strides if dim is None else strides[dim]
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(s, 1)
    strides = tuple(reversed(strides))
    return strides if dim is None else strides[dim]


def nelement(self):
    return self.numel()


def storage_offset(self):
    return 0


def unsqueeze_(self, dim):
    """In-place ``unsqueeze``: this tensor takes the new shape (a metadata change, like PyTorch's)."""
    return _reshape_inplace(self, self.unsqueeze(dim), "unsqueeze_")


def squeeze_(self, dim=None):
    return _reshape_inplace(self, self.squeeze(dim), "squeeze_")


def resize_as_(self, other):
    if other.numel() != self.numel():
        raise mark(with_user_line(RuntimeError(
            f"resize_as_: Ember keeps storage sizes fixed; {tuple(self.shape)} has {self.numel()} elements and "
            f"{tuple(other.shape)} has {other.numel()}. Use torch.empty_like(other) instead."), 2))
    return _reshape_inplace(self, self.reshape(tuple(other.shape)), "resize_as_")


def _reshape_inplace(self, new, name):
    return self._reshape_(new, name.rstrip("_"))


def index_add_(self, dim, index, source, *, alpha=1):
    """``self[..., index[i], ...] += alpha * source[..., i, ...]`` along ``dim`` (repeated indices add up)."""
    return self.copy_(index_add(self, dim, index, source, alpha))


def index_put(self, indices, values, accumulate=False):
    """Out-of-place ``index_put_``."""
    return self.clone().index_put_(indices, values, accumulate)


def index_copy(self, dim, index, source):
    out = self.clone()
    out[(slice(None),) * (dim % max(self.ndim, 1)) + (index,)] = source
    return out


def index_copy_(self, dim, index, source):
    self[(slice(None),) * (dim % max(self.ndim, 1)) + (index,)] = source
    return self


def is_nonzero(self):
    if self.numel() != 1:
        raise mark(with_user_line(RuntimeError(
            f"is_nonzero: a tensor with {self.numel()} elements has no single truth value"), 2))
    return bool(self.reshape(()).item() != 0)


def is_complex(self):
    return self._data.dtype.kind == "c"


_METHODS = {
    "atan2": atan2, "arctan2": atan2, "addmm": addmm, "addmv": addmv, "baddbmm": baddbmm, "det": det,
    "logdet": logdet, "inverse": inverse, "cholesky": cholesky, "diag_embed": diag_embed, "select": select,
    "where": where, "unfold": unfold, "stride": stride, "nelement": nelement, "storage_offset": storage_offset,
    "unsqueeze_": unsqueeze_, "squeeze_": squeeze_, "resize_as_": resize_as_, "index_add_": index_add_,
    "index_put": index_put, "index_copy": index_copy, "index_copy_": index_copy_, "is_nonzero": is_nonzero,
    "is_complex": is_complex, "lu": lu, "lu_solve": lu_solve, "matrix_exp": matrix_exp,
    "cholesky_inverse": cholesky_inverse, "cholesky_solve": cholesky_solve, "triangular_solve": triangular_solve,
    "qr": qr, "svd": svd, "slogdet": slogdet, "pinverse": pinverse, "ger": ger,
    # device and layout flags programs test (``x.is_cuda or x.is_xpu``): Ember tensors are dense, on CPU or CUDA
    "is_xpu": property(lambda self: False), "is_mps": property(lambda self: False),
    "is_meta": property(lambda self: False), "is_sparse": property(lambda self: False),
    "is_quantized": property(lambda self: False),
}
for _name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"):
    _METHODS[_name] = (lambda name: lambda self, other: getattr(_fx(), name)(self, other))(_name)
_METHODS["bitwise_not"] = _unary("bitwise_not")
for _name in ("asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh"):
    _METHODS[_name] = _METHODS["arc" + _name[1:] if _name[0] == "a" else _name] = _unary(_name)
    _METHODS[_name + "_"] = _inplace_unary(_name)


def install(tensor_cls) -> None:
    """Add the methods above to ``tensor_cls`` (never replacing one it already has)."""
    for name, fn in _METHODS.items():
        if not hasattr(tensor_cls, name):
            setattr(tensor_cls, name, fn)
