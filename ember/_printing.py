"""PyTorch-style tensor repr: ``tensor([1.0000, 2.5000], requires_grad=True)``."""
from __future__ import annotations

import numpy as np

from . import backend

_DEFAULT_SHOWN = ("float32", "int64", "bool")


def _float_formatter(arr):
    finite = arr[np.isfinite(arr)] if arr.size else arr
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.4f}"
    amax = float(np.abs(finite).max())
    nonzero = np.abs(finite[finite != 0])
    amin = float(nonzero.min()) if nonzero.size else 0.0  # PyTorch decides on the nonzero finite values
    if np.all(finite == np.round(finite)) and amax < 1e8:
        width = max(len(f"{v:.0f}") for v in finite.reshape(-1)[:1000]) + 1
        return lambda v: (_special(v) or f"{v:.0f}.").rjust(width)
    if amax >= 1e8 or (amin > 0 and amin < 1e-4) or (amin > 0 and amax / amin > 1e3):
        width = max(len(f"{v:.4e}") for v in finite.reshape(-1)[:1000])  # a minus sign widens every column
        return lambda v: (_special(v) or f"{v:.4e}").rjust(width)
    width = max(len(f"{v:.4f}") for v in finite.reshape(-1)[:1000])
    return lambda v: (_special(v) or f"{v:.4f}").rjust(width)


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _shown(arr, threshold=1000, edge=3):
    """The elements a summarised repr shows (the first and last ``edge`` along each dim): PyTorch picks the
    number format and widths from these alone."""
    if arr.size <= threshold:
        return arr
    for axis, n in enumerate(arr.shape):
        if n > 2 * edge:
            arr = np.take(arr, list(range(edge)) + list(range(n - edge, n)), axis=axis)
    return arr


def tensor_repr(t) -> str:
    arr = backend.to_device(t._data, backend.CPU)
    extras = []
    if t._data.dtype.kind == "f" or t._data.dtype.kind == "V":
        fmt = _float_formatter(_shown(arr).astype(np.float64))
        body = np.array2string(arr.astype(np.float64), separator=", ", prefix="tensor(",
                               formatter={"float_kind": fmt}, threshold=1000, edgeitems=3, max_line_width=80)
    elif arr.dtype.kind == "b":  # PyTorch pads True to False's width only when a False is shown
        width = 5 if arr.size and not _shown(arr).all() else 4
        body = np.array2string(arr, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3,
                               max_line_width=80, formatter={"bool": lambda v: str(bool(v)).rjust(width)})
    else:
        body = np.array2string(arr, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3,
                               max_line_width=80)
    if arr.size > 1000:  # PyTorch sets the elided elements off by one more space: "2,  ..., 97"
        body = body.replace(", ..., ", ",  ..., ")
    if t.dtype.name not in _DEFAULT_SHOWN or arr.size == 0 and t.dtype.name != "float32":
        extras.append(f"dtype=ember.{t.dtype.name}")
    if arr.size == 0 and arr.ndim != 1:
        body = "[]"
        extras.insert(0, f"size={tuple(arr.shape)}")
    dev = t.device
    if dev.type != "cpu":
        extras.insert(0, f"device='{dev}'")
    if t._node is not None:
        extras.append(f"grad_fn=<{t._node.display_name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
