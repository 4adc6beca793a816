"""PyTorch's process-wide switches that training scripts set in their first lines: determinism, float32 matmul
precision, inter-op threads, flushing denormals. Each keeps PyTorch's names, arguments and errors, and says
what it changes in Ember.

- ``use_deterministic_algorithms(mode, *, warn_only=False)``: Ember's CPU kernels are deterministic already
  (the same bits run after run: reductions and split passes have a fixed order). The flag is recorded and read
  back by ``are_deterministic_algorithms_enabled()``.
- ``set_float32_matmul_precision("highest" | "high" | "medium")``: recorded; Ember's float32 matmuls always run
  in full float32 (there is no TF32 or bfloat16 fast path to allow), which is what "highest" asks for.
- ``set_num_interop_threads(n)``: Ember runs no inter-op thread pool (ops run one after another on the caller's
  thread); the count is recorded once, and a second call raises as PyTorch's does.
- ``set_flush_denormal(mode)``: returns False, PyTorch's answer where it cannot be done: NumPy offers no way to
  set the CPU's flush-to-zero mode.

>>> import ember
>>> ember.use_deterministic_algorithms(True)
>>> ember.are_deterministic_algorithms_enabled()
True
>>> ember.use_deterministic_algorithms(False)
>>> ember.set_float32_matmul_precision("high"); ember.get_float32_matmul_precision()
'high'
"""
from __future__ import annotations

from .errors import mark, with_user_line

_STATE = {"deterministic": False, "warn_only": False, "precision": "highest", "interop": None}
_PRECISIONS = ("highest", "high", "medium")
_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def _bad(exc):
    return mark(with_user_line(exc, 3))


def use_deterministic_algorithms(mode, *, warn_only=False) -> None:
    """Ask for deterministic algorithms (``torch.use_deterministic_algorithms``); see the module docstring."""
    if not isinstance(mode, bool) or not isinstance(warn_only, bool):
        raise _bad(TypeError(f"use_deterministic_algorithms: mode and warn_only must be bools, got {mode!r} "
                             f"and {warn_only!r}"))
    _STATE["deterministic"], _STATE["warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    return _STATE["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _STATE["deterministic"] and _STATE["warn_only"]


def set_deterministic_debug_mode(debug_mode) -> None:
    """0 / "default": off; 1 / "warn": deterministic, warn only; 2 / "error": deterministic (PyTorch's names)."""
    level = _DEBUG_MODES.get(debug_mode, debug_mode)
    if level not in (0, 1, 2):
        raise _bad(RuntimeError(f"set_deterministic_debug_mode: expected one of {list(_DEBUG_MODES)} or 0, 1, 2, "
                                f"got {debug_mode!r}"))
    _STATE["deterministic"], _STATE["warn_only"] = level > 0, level == 1


def get_deterministic_debug_mode() -> int:
    return 0 if not _STATE["deterministic"] else 1 if _STATE["warn_only"] else 2


def set_float32_matmul_precision(precision: str) -> None:
    """Record the float32 matmul precision (``torch.set_float32_matmul_precision``); see the module docstring."""
    if precision not in _PRECISIONS:
        raise _bad(RuntimeError(f"set_float32_matmul_precision: expected one of {list(_PRECISIONS)}, "
                                f"got {precision!r}"))
    _STATE["precision"] = precision


def get_float32_matmul_precision() -> str:
    return _STATE["precision"]


def set_num_interop_threads(n) -> None:
    """Record the inter-op thread count; like PyTorch, it can be set once (see the module docstring)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise _bad(RuntimeError(f"set_num_interop_threads: expected a positive integer, got {n!r}"))
    if _STATE["interop"] is not None:
        raise _bad(RuntimeError("set_num_interop_threads: the number of interop threads can be set only once, "
                                "before any parallel work has started"))
    _STATE["interop"] = n


def get_num_interop_threads() -> int:
    """The recorded inter-op count, else 1: Ember runs ops one after another on the calling thread."""
    return _STATE["interop"] or 1


def set_flush_denormal(mode: bool) -> bool:
    """Flushing denormals is not supported (NumPy exposes no FTZ/DAZ control): returns False, as PyTorch does
    on a CPU without it; values stay exact IEEE."""
    if not isinstance(mode, bool):
        raise _bad(TypeError(f"set_flush_denormal: expected a bool, got {mode!r}"))
    return False
