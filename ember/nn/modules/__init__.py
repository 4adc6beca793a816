"""All layer classes. Each file exports its public classes through ``__all__``."""
import importlib

__all__ = []
for _name in ("module", "container", "linear", "activation", "loss", "normalization", "dropout", "sparse",
              "conv", "pooling", "rnn", "attention", "transformer"):
    try:
        _mod = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _e:  # a file not written yet (only while the package is being built)
        if _e.name != f"{__name__}.{_name}":
            raise
        continue
    for _n in getattr(_mod, "__all__", []):
        globals()[_n] = getattr(_mod, _n)
        __all__.append(_n)
