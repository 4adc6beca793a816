"""All layer classes; each file exports its public classes through ``__all__``."""
from importlib import import_module as _import

_FILES = ("module", "lazy", "container", "linear", "activation", "loss", "normalization", "dropout", "sparse", "conv",
          "pooling", "rnn", "attention", "transformer", "transformer_decoder", "bag", "parallel",
          "pixelshuffle", "syncbatchnorm", "padding", "distance", "fold",
          "adaptive")  # file names follow torch.nn.modules.* (safe_globals names classes by path)
_MODULES = [_import(f"{__name__}.{name}") for name in _FILES]
__all__ = [n for m in _MODULES for n in m.__all__]
globals().update({n: getattr(m, n) for m in _MODULES for n in m.__all__})
