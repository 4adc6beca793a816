"""The core's one wiring step: hand the pieces of higher layers down to the layers that call them.

The core is layered ``backend -> tensor -> ops -> autograd -> functional`` (``../shared/DESIGN.md``), yet a Tensor's
methods call composites (``x.sum()``), ``ops.apply`` records autograd nodes, and autograd makes zeros with
``creation``. Instead of importing upward (inside functions, or by rebinding module globals from scattered places),
the lower modules declare those names as ``None`` placeholders and this module, imported once from
``ember/__init__.py`` after the core, installs every one of them. ``WIRES`` is the whole list of upward
references in the core; ``tests/test_layering_imports.py`` fails on any other upward import.
"""
from __future__ import annotations

from . import (
    _legacy_types,
    _tensor_extra,
    _tensor_math,
    _tensor_methods,
    _tensor_more,
    _tensor_tail,
    autograd,
    autograd_engine,
    autograd_function,
    creation,
    func,
    functional,
    linalg,
    ops,
    tensor,
)
from .functional import index, math, math_extra, reduce, shape
from .functional import linalg as functional_linalg
from .ops import _core
from .ops import indexing as ops_indexing
from .ops import nn as ops_nn

# lower module -> {placeholder name: the higher-layer object it stands for}
WIRES = {
    _core: {"record": autograd.record},  # ops.apply records a node when grad is on
    ops_indexing: {"zeros": creation.zeros},
    ops_nn: {"arange": creation.arange, "softmax": functional_linalg.softmax, "cast": math.cast},
    tensor: {"_to_array": creation._to_array, "VersionCounter": autograd.VersionCounter,
             "backward": autograd_engine.backward, "POST_HOOKS": autograd_engine.POST_HOOKS,
             "REGISTRY": ops.REGISTRY, "apply": ops.apply, "build_key": ops_indexing.build_key,
             "_promote_pair": math._promote_pair, "check_complex": _core.check_complex},
    _tensor_methods: {"F": functional, "M": math, "R": reduce, "S": shape, "I": index, "L": functional_linalg,
                      "C": creation, "apply": ops.apply},
    _tensor_math: {"tensor": creation.tensor, "arange": creation.arange,
                   "setitem": index.setitem, "normalize_key": index.normalize_key, "apply": ops.apply},
    _tensor_extra: {"math_extra": math_extra, "linalg": linalg, "_where": math.where, "arange": creation.arange,
                    "index_add": index.index_add},
    _tensor_more: {"F": functional},
    _tensor_tail: {"F": functional, "C": creation},
    _legacy_types: {"empty": creation.empty, "tensor": creation.tensor},
    autograd_engine: {"creation": creation},
    autograd_function: {"zeros": creation.zeros, "zeros_like": creation.zeros_like},
    func: {"stack": shape.stack},
}


def install():
    """Fill every placeholder (once; idempotent). A name missing from its module is a stale wire: fail loudly."""
    for module, names in WIRES.items():
        for name, value in names.items():
            if not hasattr(module, name):
                raise ImportError(f"ember/_wiring.py: {module.__name__} has no placeholder {name!r}")
            setattr(module, name, value)


install()
