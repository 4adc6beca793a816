"""``keras.config``: Keras 3's global settings (float type, epsilon, image layout, logging, fit caps).

>>> from ember import keras
>>> keras.config.floatx(), keras.config.image_data_format(), keras.config.backend()
('float32', 'channels_last', 'ember')
>>> keras.config.set_max_epochs(2); keras.config.max_epochs()
2
>>> keras.config.set_max_epochs(None)
"""
from __future__ import annotations

from . import mixed_precision
from .backend import backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format

__all__ = ["backend", "epsilon", "floatx", "image_data_format", "set_epsilon", "set_floatx", "set_image_data_format",
           "dtype_policy", "set_dtype_policy", "enable_interactive_logging", "disable_interactive_logging",
           "is_interactive_logging_enabled", "enable_traceback_filtering", "disable_traceback_filtering",
           "is_traceback_filtering_enabled", "enable_unsafe_deserialization", "enable_flash_attention",
           "disable_flash_attention", "is_flash_attention_enabled", "max_epochs", "set_max_epochs",
           "max_steps_per_epoch", "set_max_steps_per_epoch", "set_backend", "is_nnx_enabled"]

_STATE = {"interactive_logging": True, "traceback_filtering": True, "flash_attention": None, "max_epochs": None,
          "max_steps_per_epoch": None}


def dtype_policy():
    """The global dtype policy (``keras.mixed_precision.global_policy()``)."""
    return mixed_precision.global_policy()


def set_dtype_policy(policy) -> None:
    """Set the global dtype policy, e.g. ``"mixed_float16"`` (``keras.mixed_precision.set_global_policy``)."""
    mixed_precision.set_global_policy(policy)


def enable_interactive_logging() -> None:
    """Progress bars and logs go to stdout (the default)."""
    _STATE["interactive_logging"] = True


def disable_interactive_logging() -> None:
    """Keras sends logs to Python's ``logging`` instead of stdout; Ember's ``fit``/``evaluate``/``predict`` then
    print no progress bar (as with ``verbose=0``)."""
    _STATE["interactive_logging"] = False


def is_interactive_logging_enabled() -> bool:
    return _STATE["interactive_logging"]


def enable_traceback_filtering() -> None:
    _STATE["traceback_filtering"] = True


def disable_traceback_filtering() -> None:
    """Accepted: Ember's errors already name the user's line; its tracebacks are not filtered."""
    _STATE["traceback_filtering"] = False


def is_traceback_filtering_enabled() -> bool:
    return _STATE["traceback_filtering"]


def enable_unsafe_deserialization() -> None:
    """Accepted for Keras programs, but Ember never executes code from a file: a saved ``Lambda`` layer's
    bytecode still does not load (rebuild the layer in code, or register a custom layer)."""


def enable_flash_attention() -> None:
    _STATE["flash_attention"] = True


def disable_flash_attention() -> None:
    _STATE["flash_attention"] = False


def is_flash_attention_enabled():
    """``None`` (Keras's "decide automatically"), or the last enable/disable; Ember's attention is the same
    computation either way."""
    return _STATE["flash_attention"]


def max_epochs():
    """The cap on every ``fit``'s epochs (``None``: no cap)."""
    return _STATE["max_epochs"]


def set_max_epochs(max_epochs) -> None:
    """Cap the epochs of every ``fit`` call (a quick run of a long script), as Keras 3's config does."""
    _STATE["max_epochs"] = None if max_epochs is None else int(max_epochs)


def max_steps_per_epoch():
    return _STATE["max_steps_per_epoch"]


def set_max_steps_per_epoch(max_steps_per_epoch) -> None:
    """Cap the steps of each epoch of every ``fit`` call."""
    _STATE["max_steps_per_epoch"] = None if max_steps_per_epoch is None else int(max_steps_per_epoch)


def set_backend(backend_name) -> None:
    """Ember is the one backend: anything but ``"ember"`` (or ``"torch"``, whose API Ember serves) raises."""
    if backend_name not in ("ember", "torch"):
        raise ValueError(f"keras.config.set_backend: ember.keras runs on Ember only, got {backend_name!r}")


def is_nnx_enabled() -> bool:
    return False
