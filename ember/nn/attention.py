"""``torch.nn.attention``: ``SDPBackend`` and the ``sdpa_kernel`` context manager.

PyTorch picks one of several kernels for ``F.scaled_dot_product_attention`` (math, flash, memory-efficient,
cuDNN); Ember has one implementation (the composite in ``nn/functional/attention.py``, lowered by the compiler),
so the backend list does not change what is computed: any list naming a backend other than ``ERROR`` runs it.
As in PyTorch, an empty list (or only ``ERROR``) leaves no backend, and attention inside the block raises.

>>> import ember
>>> from ember.nn.attention import SDPBackend, sdpa_kernel
>>> q = ember.randn(1, 2, 3, 4)
>>> with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
...     out = ember.nn.functional.scaled_dot_product_attention(q, q, q)
>>> out.shape
ember.Size([1, 2, 3, 4])
"""
from __future__ import annotations

import contextlib
import enum

from ..errors import mark, with_user_line

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    """The attention kernels PyTorch knows, with its values (all run Ember's one implementation)."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


class _Enabled:
    backends: frozenset = frozenset(SDPBackend) - {SDPBackend.ERROR}  # the backends allowed now
    priority: tuple = ()


def check_backend_available(fn_name):
    """Raise when ``sdpa_kernel`` left no backend (called by F.scaled_dot_product_attention)."""
    if not _Enabled.backends - {SDPBackend.ERROR}:
        raise mark(with_user_line(RuntimeError(
            f"{fn_name}: no viable backend was found: the enclosing sdpa_kernel(...) enabled none "
            "(pass at least one SDPBackend other than ERROR, e.g. SDPBackend.MATH)"), 3))


def sdpa_kernel(backends, set_priority=False):
    """Allow only ``backends`` (one ``SDPBackend`` or a list) for attention inside the ``with`` block.

    ``set_priority=True`` also records the list's order as the preference; in Ember the choice changes
    nothing but whether any backend is left (see the module docstring).

    >>> from ember.nn.attention import SDPBackend, sdpa_kernel
    >>> with sdpa_kernel([SDPBackend.MATH, SDPBackend.EFFICIENT_ATTENTION], set_priority=True):
    ...     pass
    """
    items = [backends] if isinstance(backends, SDPBackend) else backends
    if not isinstance(items, (list, tuple, set, frozenset)):
        _bad(type(backends).__name__)
    odd = sorted({type(b).__name__ for b in items if not isinstance(b, SDPBackend)})
    if odd:
        _bad("a list holding " + ", ".join(odd))
    return _allowing(frozenset(items), tuple(items) if set_priority else None)


def _bad(got):
    raise mark(with_user_line(AssertionError(
        f"sdpa_kernel: Backend must be an instance of SDPBackend or a list of SDPBackend instances, got {got}"),
        3))


@contextlib.contextmanager
def _allowing(backends, priority):
    prev = _Enabled.backends, _Enabled.priority
    _Enabled.backends = backends
    if priority is not None:
        _Enabled.priority = priority
    try:
        yield
    finally:
        _Enabled.backends, _Enabled.priority = prev
