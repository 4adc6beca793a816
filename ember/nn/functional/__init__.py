"""torch.nn.functional on Ember: composites of Ember ops (activations, losses, conv, pooling, attention...)."""
import importlib

__all__ = []
for _name in ("activation", "loss", "linear", "normalization", "dropout", "sparse", "conv", "pooling",
              "attention", "misc"):
    try:
        _mod = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _e:
        if _e.name != f"{__name__}.{_name}":
            raise
        continue
    for _n in getattr(_mod, "__all__", []):
        globals()[_n] = getattr(_mod, _n)
        __all__.append(_n)
