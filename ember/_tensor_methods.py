"""Tensor's operators and PyTorch-named methods: thin front doors to ``ember.functional``.

``F`` and friends are installed by ``ember/_wiring.py`` once the functional modules exist (they sit above Tensor
in the layers, so this file never imports them).
"""
from __future__ import annotations

from . import memory_format as _mf
from ._tensor_math import TensorMathMethods  # noqa: E402

# installed by ember/_wiring.py: the functional, math, reduce, shape, index, linalg, creation modules; ops.apply
F = M = R = S = I = L = C = apply = None


def _relaid(t, fn, memory_format):
    """``t`` with ``memory_format``'s strides (channels last: NHWC in memory), through differentiable views and
    one copy; ``t`` itself when it is laid out so already."""
    fmt = _mf.check_format(fn, memory_format, t.ndim)
    if fmt.order is None or t.is_contiguous(memory_format=fmt):
        return t
    back = [fmt.order.index(d) for d in range(t.ndim)]  # the inverse permutation
    return S.contiguous(t.permute(*fmt.order)).permute(*back)


class TensorMethods(TensorMathMethods):
    __slots__ = ()

    # -- arithmetic operators --------------------------------------------------------------------------------
    def __add__(self, other):
        return M.binary("add", self, other)

    def __radd__(self, other):
        return M.binary("add", other, self)

    def __sub__(self, other):
        return M.binary("sub", self, other)

    def __rsub__(self, other):
        return M.binary("sub", other, self)

    def __mul__(self, other):
        return M.binary("mul", self, other)

    def __rmul__(self, other):
        return M.binary("mul", other, self)

    def __truediv__(self, other):
        return M.true_divide(self, other)

    def __rtruediv__(self, other):
        return M.true_divide(M.as_tensor_like(other, self), self)

    def __floordiv__(self, other):
        return M.binary("floordiv", self, other)

    def __rfloordiv__(self, other):
        return M.binary("floordiv", other, self)

    def __mod__(self, other):
        return M.binary("remainder", self, other)

    def __rmod__(self, other):
        return M.binary("remainder", other, self)

    def __pow__(self, other):
        return M.pow(self, other)

    def __rpow__(self, other):
        return M.pow(other, self)

    def __matmul__(self, other):
        return L.matmul(self, other)

    def __rmatmul__(self, other):
        return L.matmul(M.as_tensor_like(other, self), self)

    def __neg__(self):
        return M.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return M.abs(self)

    def __invert__(self):
        return self._logical_or_bitwise("logical_not", None)

    def __and__(self, other):
        return self._logical_or_bitwise("logical_and", other)

    def __or__(self, other):
        return self._logical_or_bitwise("logical_or", other)

    def __xor__(self, other):
        return self._logical_or_bitwise("logical_xor", other)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __lshift__(self, other):
        return M.binary("bitwise_left_shift", self, other)

    def __rshift__(self, other):
        return M.binary("bitwise_right_shift", self, other)

    def __rlshift__(self, other):
        return M.binary("bitwise_left_shift", other, self)

    def __rrshift__(self, other):
        return M.binary("bitwise_right_shift", other, self)

    def _logical_or_bitwise(self, op, other):
        # bool tensors: logical ops (the same bits); integers: bitwise ops; floats: refused by the bitwise rule
        other_bool = other is None or isinstance(other, bool) or getattr(other, "dtype", None) is not None and \
            other.dtype.name == "bool"
        if self._data.dtype.kind == "b" and other_bool:
            return M.logical_not(self) if other is None else M.binary(op, self, other)
        bitwise = op.replace("logical_", "bitwise_")
        return apply(bitwise, self) if other is None else M.binary(bitwise, self, other)

    # comparisons return bool tensors
    def __eq__(self, other):
        return M.binary("eq", self, other)

    def __ne__(self, other):
        return M.binary("ne", self, other)

    def __lt__(self, other):
        return M.binary("lt", self, other)

    def __le__(self, other):
        return M.binary("le", self, other)

    def __gt__(self, other):
        return M.binary("gt", self, other)

    def __ge__(self, other):
        return M.binary("ge", self, other)

    # -- in-place --------------------------------------------------------------------------------------------
    def __iadd__(self, other):
        return self._inplace("add", other)

    def __isub__(self, other):
        return self._inplace("sub", other)

    def __imul__(self, other):
        return self._inplace("mul", other)

    def __itruediv__(self, other):
        return self._inplace("div", other)

    def add_(self, other, alpha=1):
        return self._inplace("add", other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1):
        return self._inplace("sub", other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return self._inplace("mul", other)

    def div_(self, other):
        return self._inplace("div", other)

    def pow_(self, other):
        return self._inplace("pow", other)

    def neg_(self):
        return self._inplace("neg")

    def exp_(self):
        return self._inplace("exp")

    def sqrt_(self):
        return self._inplace("sqrt")

    def abs_(self):
        if self._data.dtype.kind == "c":  # |z| is real: it cannot replace z in place (PyTorch's rule)
            from .errors import mark, with_user_line

            raise mark(with_user_line(RuntimeError("In-place abs is not supported for complex tensors; use "
                                                   "z = z.abs()"), 2))
        return self._inplace("abs")

    def sigmoid_(self):
        return self._inplace("sigmoid")

    def tanh_(self):
        return self._inplace("tanh")

    def relu_(self):
        return self._inplace("relu")

    def clamp_(self, min=None, max=None):
        if min is not None:
            self._inplace("maximum", min)
        if max is not None:
            self._inplace("minimum", max)
        return self

    clip_ = clamp_

    def clamp_min_(self, min):
        return self._inplace("maximum", min)

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        return self.copy_(value if hasattr(value, "_data") else self._scalar(value))

    def copy_(self, src, non_blocking=False):
        if not hasattr(src, "_data"):
            src = C.tensor(src)
        I.setitem(self, Ellipsis, src if src.device == self.device else src.to(self.device))
        return self

    def masked_fill_(self, mask, value):
        I.setitem(self, mask.expand(*self.shape) if tuple(mask.shape) != tuple(self.shape) else mask, value)
        return self

    def index_fill_(self, dim, index, value):
        I.setitem(self, (slice(None),) * (dim % self.ndim) + (index,), value)
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        return self.copy_(C.rand(*self.shape, generator=generator, dtype=self.dtype, device=self.device) * (b - a) + a)

    def normal_(self, mean=0.0, std=1.0, generator=None):
        return self.copy_(C.randn(*self.shape, generator=generator, dtype=self.dtype, device=self.device) * std + mean)

    def bernoulli_(self, p=0.5, generator=None):
        return self.copy_(C.rand(*self.shape, generator=generator, dtype=self.dtype, device=self.device) < p)

    def random_(self, low=0, high=None, generator=None):
        return self.copy_(C.randint(low, high, tuple(self.shape), generator=generator, dtype=self.dtype))

    def __getitem__(self, key):
        return I.getitem(self, key)

    def __setitem__(self, key, value):
        I.setitem(self, key, value)

    # -- conversion ------------------------------------------------------------------------------------------
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False, memory_format=None):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``; differentiable."""
        from . import backend, dtypes

        for a in args:
            if hasattr(a, "_data"):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (str, backend.device, int)) and not isinstance(a, bool) and not (
                    isinstance(a, str) and a in dtypes._BY_NAME):  # "float64" is a dtype, "cuda:0" a device
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and dtypes.as_dtype(dtype).np != self._data.dtype:
            out = M.convert(out, dtype)
        if device is not None and backend.device(device) != self.device:
            out = apply("to_device", out, device=str(backend.device(device)))
        out = out.clone() if copy and out is self else out
        if memory_format is not None and memory_format is not _mf.preserve_format:
            out = out.contiguous(memory_format=memory_format)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def type(self, dtype=None, non_blocking=False):
        """The legacy type name (``'ember.FloatTensor'``) without an argument, else a tensor of that type:
        ``x.type(ember.float64)``, ``x.type('torch.DoubleTensor')``, ``x.type(ember.LongTensor)``."""
        from . import _legacy_types

        return _legacy_types.type_name(self) if dtype is None else _legacy_types.convert(self, dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    def half(self):
        return self.to("float16")

    def bfloat16(self):
        return self.to("bfloat16")

    def long(self):
        return self.to("int64")

    def int(self):
        return self.to("int32")

    def short(self):
        return self.to("int16")

    def bool(self):
        return self.to("bool")

    def byte(self):
        return self.to("uint8")

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return C.zeros(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return C.ones(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return C.full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                      requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return C.empty(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return C.tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    # -- shapes ----------------------------------------------------------------------------------------------
    @property
    def T(self):  # noqa: N802
        return S.permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self):  # noqa: N802
        return S.transpose(self, -2, -1)

    def view(self, *shape):
        return S.view(self, *shape)

    def view_as(self, other):
        return S.view(self, tuple(other.shape))

    def reshape(self, *shape):
        return S.reshape(self, *shape)

    def reshape_as(self, other):
        return S.reshape(self, tuple(other.shape))

    def flatten(self, start_dim=0, end_dim=-1):
        return S.flatten(self, start_dim, end_dim)

    def unflatten(self, dim, sizes):
        return S.unflatten(self, dim, sizes)

    def squeeze(self, dim=None):
        return S.squeeze(self, dim)

    def unsqueeze(self, dim):
        return S.unsqueeze(self, dim)

    def permute(self, *dims):
        return S.permute(self, *dims)

    def transpose(self, dim0, dim1):
        return S.transpose(self, dim0, dim1)

    swapaxes = swapdims = transpose

    def t(self):
        return S.t(self)

    def movedim(self, source, destination):
        return S.movedim(self, source, destination)

    def expand(self, *sizes):
        return S.expand(self, *sizes)

    def expand_as(self, other):
        return S.expand_as(self, other)

    def repeat(self, *sizes):
        return S.repeat(self, *sizes)

    def repeat_interleave(self, repeats, dim=None):
        return S.repeat_interleave(self, repeats, dim)

    def tile(self, dims):
        return S.tile(self, dims)

    def flip(self, dims):
        return S.flip(self, dims)

    def roll(self, shifts, dims=None):
        return S.roll(self, shifts, dims)

    def narrow(self, dim, start, length):
        return S.narrow(self, dim, start, length)

    def split(self, split_size, dim=0):
        return S.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return S.chunk(self, chunks, dim)

    def tensor_split(self, indices_or_sections, dim=0):
        return S.tensor_split(self, indices_or_sections, dim)

    def unbind(self, dim=0):
        return S.unbind(self, dim)

    def contiguous(self, memory_format=None):
        """A tensor laid out densely in ``memory_format`` (row-major by default): ``self`` when it already is."""
        if memory_format is None or memory_format is _mf.contiguous_format:
            return S.contiguous(self)
        return _relaid(self, "contiguous", memory_format)

    def clone(self, memory_format=None):
        if memory_format is None or memory_format is _mf.preserve_format:
            return S.clone(self)
        return _relaid(S.clone(self), "clone", memory_format)
