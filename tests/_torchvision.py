"""torchvision's pure-Python parts (model definitions, transforms, utils) as a test oracle.

The PyPI torchvision wheel links its C++ extension against the CUDA build of torch; next to the CPU build
that extension cannot load and ``import torchvision`` fails. The model definitions, the transforms on PIL
images and tensors, and ``utils.make_grid`` are plain Python over torch, so this helper registers a bare
``torchvision`` package (skipping its ``__init__``, which loads the extension) and imports those
submodules directly. Returns None when torchvision is not installed.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def load(*submodules):
    """The ``torchvision`` package with ``submodules`` (e.g. "models", "transforms") imported, or None."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    pkg = sys.modules.get("torchvision")
    if pkg is None:
        spec = importlib.util.find_spec("torchvision")
        if spec is None:
            return None
        try:
            pkg = importlib.import_module("torchvision")  # works where the extension matches torch
        except Exception:  # noqa: BLE001  (the CUDA-linked extension next to CPU torch)
            for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
                del sys.modules[name]
            pkg = types.ModuleType("torchvision")
            pkg.__path__ = list(spec.submodule_search_locations)
            pkg.__spec__ = spec
            pkg.__file__ = spec.origin
            sys.modules["torchvision"] = pkg
    for sub in submodules:
        importlib.import_module(f"torchvision.{sub}")
    return pkg
