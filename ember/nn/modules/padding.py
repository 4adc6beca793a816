"""Padding layers (torch.nn's ``ReflectionPad2d``, ``ZeroPad2d``, ...): ``F.pad`` with a fixed padding.

``padding`` is an int (the same on every side) or a tuple of 2 * N sizes, (left, right[, top, bottom[, front,
back]]) from the last dim back, as in ``F.pad``.

>>> import ember
>>> from ember import nn
>>> nn.ReflectionPad2d(1)(ember.arange(4.0).reshape(1, 1, 2, 2)).shape
ember.Size([1, 1, 4, 4])
>>> nn.ConstantPad1d((0, 2), 7.0)(ember.zeros(1, 2)).tolist()
[[0.0, 0.0, 7.0, 7.0]]
"""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = []


class _PadNd(Module):
    dims = 1
    mode = "constant"

    def __init__(self, padding, value: float = 0.0):
        super().__init__()
        if isinstance(padding, int):
            padding = (padding,) * (2 * self.dims)
        padding = tuple(int(p) for p in padding)
        if len(padding) != 2 * self.dims:
            raise ValueError(f"{type(self).__name__}: padding should be an int or a tuple of {2 * self.dims} ints, "
                             f"got {padding}")
        self.padding, self.value = padding, value

    def forward(self, input):
        if input.ndim not in (self.dims + 1, self.dims + 2):
            raise ValueError(f"{type(self).__name__}: expected a {self.dims + 1}-D or {self.dims + 2}-D input "
                             f"(unbatched or batched), got shape {tuple(input.shape)}")
        return F.pad(input, self.padding, self.mode, self.value)

    def extra_repr(self):
        return f"{self.padding}" + (f", value={self.value}" if self.mode == "constant" and self.value else "")


class _ConstantPad(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding, value)


def _make(name, dims, mode, doc, base=_PadNd):
    cls = type(name, (base,), {"dims": dims, "mode": mode, "__doc__": doc + " (see the module docstring)",
                               "__module__": __name__})
    globals()[name] = cls
    __all__.append(name)


for _d in (1, 2, 3):
    _make(f"ReflectionPad{_d}d", _d, "reflect", f"Pads the last {_d} dims by reflecting the input at its edges.")
    _make(f"ReplicationPad{_d}d", _d, "replicate", f"Pads the last {_d} dims by repeating the edge values.")
    _make(f"CircularPad{_d}d", _d, "circular", f"Pads the last {_d} dims by wrapping the input around.")
    _make(f"ZeroPad{_d}d", _d, "constant", f"Pads the last {_d} dims with zeros.")
    _make(f"ConstantPad{_d}d", _d, "constant", f"Pads the last {_d} dims with a constant value.", _ConstantPad)
