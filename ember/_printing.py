"""PyTorch-style tensor repr: ``tensor([1.0000, 2.5000], requires_grad=True)``."""
from __future__ import annotations

import math
import sys

import numpy as np

from . import backend

_DEFAULT_SHOWN = ("float32", "int64", "bool", "complex64")
_PROFILES = {"default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
             "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
             "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80}}
OPTIONS = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """How tensors print, as ``torch.set_printoptions``: digits after the point (``precision``), the element
    count above which a tensor is summarised (``threshold``) with ``edgeitems`` shown at each end of every
    dim, the line width, a ``profile`` ("default", "short", "full") setting all four, and ``sci_mode`` (True
    or False forces scientific notation on or off; None chooses as PyTorch does).

    >>> import ember
    >>> ember.set_printoptions(precision=2)
    >>> ember.tensor([1.0, 2.125])
    tensor([1.00, 2.12])
    >>> ember.set_printoptions(profile="default")
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}")
        OPTIONS.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            OPTIONS[name] = value
    OPTIONS["sci_mode"] = sci_mode  # (PyTorch resets it with every call too)


def get_printoptions() -> dict:
    """The current print options (``torch._tensor_str.get_printoptions``'s keys)."""
    return dict(OPTIONS)


def _np_threshold() -> int:
    return sys.maxsize if OPTIONS["threshold"] == math.inf else int(OPTIONS["threshold"])


def _float_formatter(arr):
    p, sci = OPTIONS["precision"], OPTIONS["sci_mode"]
    finite = arr[np.isfinite(arr)] if arr.size else arr
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.{p}f}"
    amax = float(np.abs(finite).max())
    nonzero = np.abs(finite[finite != 0])
    amin = float(nonzero.min()) if nonzero.size else 0.0  # PyTorch decides on the nonzero finite values
    if not sci and np.all(finite == np.round(finite)) and amax < 1e8:
        width = max(len(f"{v:.0f}") for v in finite.reshape(-1)[:1000]) + 1
        return lambda v: (_special(v) or f"{v:.0f}.").rjust(width)
    if sci or (sci is None and (amax >= 1e8 or (amin > 0 and amin < 1e-4) or (amin > 0 and amax / amin > 1e3))):
        width = max(len(f"{v:.{p}e}") for v in finite.reshape(-1)[:1000])  # a minus sign widens every column
        return lambda v: (_special(v) or f"{v:.{p}e}").rjust(width)
    width = max(len(f"{v:.{p}f}") for v in finite.reshape(-1)[:1000])
    return lambda v: (_special(v) or f"{v:.{p}f}").rjust(width)


def _complex_formatter(arr):
    """``re+imj`` as PyTorch writes it: each part with the format its own values choose, the real part padded to
    its column's width, the imaginary part unpadded with its sign (``1.+2.j``, ``-3.5000-2.5000e-01j``)."""
    real = _float_formatter(arr.real.astype(np.float64))
    imag = _float_formatter(arr.imag.astype(np.float64))

    def fmt(v):
        im = (imag(v.imag) + "j").lstrip()
        return real(v.real) + (im if im[0] in "+-" else "+" + im)

    return fmt


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _shown(arr):
    """The elements a summarised repr shows (the first and last ``edge`` along each dim): PyTorch picks the
    number format and widths from these alone."""
    threshold, edge = _np_threshold(), OPTIONS["edgeitems"]
    if arr.size <= threshold:
        return arr
    for axis, n in enumerate(arr.shape):
        if n > 2 * edge:
            arr = np.take(arr, list(range(edge)) + list(range(n - edge, n)), axis=axis)
    return arr


def tensor_repr(t) -> str:
    arr = backend.to_device(t._data, backend.CPU)
    extras = []
    layout = {"separator": ", ", "prefix": "tensor(", "threshold": _np_threshold(), "edgeitems": OPTIONS["edgeitems"],
              "max_line_width": OPTIONS["linewidth"]}
    if t._data.dtype.kind == "f" or t._data.dtype.kind == "V":
        fmt = _float_formatter(_shown(arr).astype(np.float64))
        body = np.array2string(arr.astype(np.float64), formatter={"float_kind": fmt}, **layout)
    elif arr.dtype.kind == "c":  # PyTorch formats the real and the imaginary parts each on their own
        shown = _shown(arr)
        body = np.array2string(arr, formatter={"complex_kind": _complex_formatter(shown)}, **layout)
    elif arr.dtype.kind == "b":  # PyTorch pads True to False's width only when a False is shown
        width = 5 if arr.size and not _shown(arr).all() else 4
        body = np.array2string(arr, formatter={"bool": lambda v: str(bool(v)).rjust(width)}, **layout)
    else:
        body = np.array2string(arr, **layout)
    if arr.size > _np_threshold():  # PyTorch sets the elided elements off by one more space: "2,  ..., 97"
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
