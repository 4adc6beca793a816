"""Ember's primitives: one registry, one dispatch point (``apply``). See docs/internals.md."""
from ._core import REGISTRY, Aval, Op, apply, get, register  # noqa: F401
from . import elementwise, reduction, shape, indexing, linalg, random  # noqa: F401,E402,I001
