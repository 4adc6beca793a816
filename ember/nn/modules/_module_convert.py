"""Module's device and dtype conversions (``to``, ``cuda``, ``double``, ``to_empty``, ...), a mixin of ``Module``:
each replaces the arrays of the parameters (keeping the Parameter objects) and buffers through ``_apply``."""
from __future__ import annotations

from ... import backend, dtypes
from ...errors import mark, with_user_line
from ...tensor import Tensor
from ._parameter import Parameter


class ModuleConversions:
    """``_apply`` and the conversions built on it; ``Module`` inherits them."""

    def _apply(self, fn, recurse=True):
        """Convert every parameter (in place, keeping the Parameter objects) and buffer with ``fn``."""
        for m in self.modules() if recurse else [self]:
            for p in m._parameters.values():
                if p is None:
                    continue
                p.data = fn(p)
                if p.grad is not None:
                    p.grad = fn(p.grad).detach()
            for k, b in m._buffers.items():
                # a weight kept as a buffer (Keras non-trainable), a lazy module's uninitialized one: keep it
                if isinstance(b, Parameter) or getattr(b, "_uninitialized", False):
                    b.data = fn(b)
                elif b is not None:
                    m._buffers[k] = fn(b)
        return self

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(tensor)``: floating-point parameters
        and buffers take the dtype; all move to the device."""
        unknown = sorted(set(kwargs) - {"device", "dtype", "non_blocking", "memory_format"})
        if unknown:  # (a misspelt keyword must not pass silently)
            raise mark(with_user_line(TypeError(
                f"{type(self).__name__}.to() got an unexpected keyword argument {unknown[0]!r}; it takes device, "
                f"dtype, non_blocking and memory_format"), 2))
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, (str, backend.device, int)) and not isinstance(a, bool):
                device = a
            else:
                dtype = a
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
            if not dtype.is_floating_point:
                raise mark(with_user_line(TypeError(
                    f"{type(self).__name__}.to only accepts floating point dtypes, got {dtype.name}"), 2))
        dev = None if device is None else backend.device(device)

        def convert(t):
            arr = t._data
            if dtype is not None and dtypes.is_float(arr.dtype) and arr.dtype != dtype.np:
                arr = arr.astype(dtype.np)
            if dev is not None and backend.device_of(arr) != dev:
                arr = backend.to_device(arr, dev)
            if arr is t._data:
                return t
            out = Tensor._wrap(arr)
            out.requires_grad = t.requires_grad and not isinstance(t, Parameter)
            return out

        return self._apply(convert)

    def to_empty(self, *, device, recurse=True):
        """Each parameter and buffer (the module's own only, with ``recurse=False``) replaced by an uninitialised
        tensor of its shape and dtype on ``device``; the Parameter objects stay.

        >>> import ember
        >>> lin = ember.nn.Linear(2, 3).to_empty(device="cpu")
        >>> lin.weight.shape, lin.weight.requires_grad
        (ember.Size([3, 2]), True)
        """
        from ...creation import empty

        def fresh(t):  # the same flag rule as to()
            out = empty(*t.shape, dtype=t.dtype, device=t.device if device is None else device)
            out.requires_grad = t.requires_grad and not isinstance(t, Parameter)
            return out

        return self._apply(fresh, recurse=recurse)

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def type(self, dst_type):
        return self.to(dst_type)
