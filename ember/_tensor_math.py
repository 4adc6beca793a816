"""Tensor's math, reduction, indexing and linear-algebra methods (PyTorch names)."""
from __future__ import annotations

from . import _tensor_methods as _m

# installed by ember/_wiring.py (pieces of higher layers)
tensor = arange = setitem = normalize_key = apply = None


def _fwd(module: str, name: str, doc_name: str | None = None):
    """A method that forwards to ``ember.functional.<module>.<name>(self, ...)``."""

    def method(self, *args, **kwargs):
        return getattr(getattr(_m, module), name)(self, *args, **kwargs)

    method.__name__ = doc_name or name
    method.__doc__ = f"See ``ember.{name}``."
    return method


_MATH = ("exp log sin cos tan tanh sigmoid sqrt rsqrt erf abs sign floor ceil round trunc reciprocal log1p expm1 "
         "log2 log10 square relu neg clamp clip maximum minimum pow lerp logical_not logical_and logical_or "
         "logical_xor isnan isinf isfinite nan_to_num eq ne lt le gt ge add sub mul div true_divide isclose "
         "allclose equal").split()
_REDUCE = ("sum mean prod amax amin max min argmax argmin var std norm logsumexp cumsum cumprod all any "
           "count_nonzero sort argsort topk kthvalue median take_along_dim").split()
_INDEX = "gather scatter scatter_add index_select index_add masked_fill masked_select nonzero tril triu".split()
_LINALG = "matmul mm bmm mv dot outer softmax log_softmax".split()


class TensorMathMethods:
    __slots__ = ()

    for _n in _MATH:
        locals()[_n] = _fwd("M", _n)
    for _n in _REDUCE:
        locals()[_n] = _fwd("R", _n)
    for _n in _INDEX:
        locals()[_n] = _fwd("I", _n)
    for _n in _LINALG:
        locals()[_n] = _fwd("L", _n)
    del _n
    multiply, divide, subtract = _fwd("M", "mul"), _fwd("M", "div"), _fwd("M", "sub")
    greater, less, absolute = _fwd("M", "gt"), _fwd("M", "lt"), _fwd("M", "abs")

    def fmod(self, other):
        return _m.M.fmod(self, other)

    def remainder(self, other):
        return self % other

    def floor_divide(self, other):
        return self // other

    def einsum(self, *args):
        raise AttributeError("use ember.einsum(equation, *tensors)")

    def diag(self, diagonal=0):
        if self.ndim == 1:
            n = self.shape[0] + abs(diagonal)
            out = self.new_zeros(n, n)
            rows = list(range(max(-diagonal, 0), max(-diagonal, 0) + self.shape[0]))
            cols = [r + diagonal for r in rows]
            return out.index_put_((tensor(rows), tensor(cols)), self)
        return self.diagonal(diagonal)  # picked, not masked and summed: keeps the dtype and an inf off it

    def diagonal(self, offset=0, dim1=0, dim2=1):
        n = min(self.shape[dim1], self.shape[dim2] - offset) if offset >= 0 else \
            min(self.shape[dim1] + offset, self.shape[dim2])
        rows = arange(max(n, 0)) + max(-offset, 0)
        x = self.movedim((dim1, dim2), (-2, -1))
        return x[..., rows, rows + offset]

    def trace(self):
        return self.diagonal().sum()

    def index_put_(self, indices, values, accumulate=False):
        if accumulate:
            from ._state import STATE
            spec, tensors = normalize_key(self, tuple(indices))
            if STATE.grad_enabled and self.requires_grad:
                self._check_leaf_inplace("index_put")
            old = self.detach()  # same buffer, and (unlike a plain detach) the same autograd history
            old._node, old.requires_grad = self._node, self.requires_grad
            self._write(apply("index_put", old, values, *tensors, index=spec, accumulate=True), "index_put")
            return self
        setitem(self, tuple(indices), values)
        return self

    def scatter_(self, dim, index, src=None, value=None, reduce=None):
        return self.copy_(_m.I.scatter(self, dim, index, src, value, reduce))

    def scatter_add_(self, dim, index, src):
        return self.copy_(_m.I.scatter_add(self, dim, index, src))
