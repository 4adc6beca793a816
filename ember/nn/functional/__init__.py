"""torch.nn.functional on Ember: composites of Ember ops (activations, losses, conv, pooling, attention...)."""
from importlib import import_module as _import

# file names and function names overlap (dropout, linear), so the files are loaded by name, not attribute
_FILES = ("activation", "loss", "linear", "normalization", "dropout", "sparse", "conv", "pooling", "attention",
          "misc", "bag", "shuffle", "extra", "sampling", "pooling_more")
_MODULES = [_import(f"{__name__}.{name}") for name in _FILES]
__all__ = [n for m in _MODULES for n in m.__all__]
globals().update({n: getattr(m, n) for m in _MODULES for n in m.__all__})
