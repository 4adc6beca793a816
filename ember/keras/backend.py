"""Small conversions shared by the Keras layer: arrays <-> Ember tensors, floatx, epsilon, image layout.

>>> from ember.keras import backend
>>> backend.floatx(), backend.epsilon(), backend.image_data_format()
('float32', 1e-07, 'channels_last')
"""

from __future__ import annotations

import numpy as np

import ember
from ember.errors import user_errors
from ember.tensor import Tensor

_FLOATX = "float32"
_EPSILON = 1e-7


def floatx() -> str:
    return _FLOATX


def set_floatx(value: str) -> None:
    global _FLOATX
    _FLOATX = str(np.dtype(value))


def epsilon() -> float:
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


_IMAGE_DATA_FORMAT = "channels_last"


def image_data_format() -> str:
    """The layout image layers take when their ``data_format`` is None: ``'channels_last'`` unless set."""
    return _IMAGE_DATA_FORMAT


def _checked_format(data_format, where) -> str:
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError(f"{where}: data_format must be one of 'channels_first', 'channels_last', "
                         f"got {data_format!r}")
    return value


@user_errors
def set_image_data_format(data_format: str) -> None:
    """Set the default layout of image layers created afterwards (``'channels_last'`` or ``'channels_first'``).

    >>> from ember import keras
    >>> keras.config.set_image_data_format("channels_first")
    >>> keras.layers.Conv2D(2, 3).data_format
    'channels_first'
    >>> keras.config.set_image_data_format("channels_last")
    """
    global _IMAGE_DATA_FORMAT
    _IMAGE_DATA_FORMAT = _checked_format(data_format, "set_image_data_format")


@user_errors
def standardize_data_format(data_format, where="data_format") -> str:
    """``data_format`` checked and lower-cased, or the global ``image_data_format()`` when None (Keras's rule:
    a layer reads the global setting when it is created)."""
    return image_data_format() if data_format is None else _checked_format(data_format, where)


def backend() -> str:
    return "ember"


def standardize_dtype(dtype) -> str:
    """A dtype's canonical name (``'float32'``, ``'int64'``, ``'bool'``) from a string, NumPy or Ember dtype."""
    if dtype is None:
        return floatx()
    name = dtype if isinstance(dtype, str) else getattr(dtype, "name", None)
    if name == "bfloat16":
        return name
    return str(np.dtype(name if name is not None else dtype))


def is_float_dtype(dtype) -> bool:
    return standardize_dtype(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype) -> bool:
    return standardize_dtype(dtype).startswith(("int", "uint"))


def get_uid(prefix: str = "") -> int:
    """1, 2, 3, ... per prefix: the counter automatic layer names use."""
    from .layers.base import _NAMES

    _NAMES[prefix] = _NAMES.get(prefix, 0) + 1
    return _NAMES[prefix]


def clear_session() -> None:
    """Reset automatic layer names (``dense``, ``dense_1`` ...)."""
    from .layers.base import clear_session as clear

    clear()


def is_keras_tensor(x) -> bool:
    from .utils import is_keras_tensor as check

    return check(x)


def to_array(x, dtype=None):
    """Any array-like (Ember tensor, NumPy array, list, scalar) as an array of the tensor's backend."""
    if isinstance(x, Tensor):
        arr = x._data
    elif isinstance(x, np.ndarray):
        arr = x
    else:
        arr = np.asarray(x)
    if dtype is not None and arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    return arr


def to_numpy(x):
    """A NumPy array (copied off the GPU if needed) from a tensor or array-like."""
    if isinstance(x, Tensor):
        return x.detach().numpy() if x.device.type == "cpu" else np.asarray(x)
    return np.asarray(x)


def convert(x, dtype=None) -> Tensor:
    """An Ember tensor from ``x``; floating NumPy data becomes floatx unless ``dtype`` is given."""
    if isinstance(x, Tensor):
        if dtype is not None and x._data.dtype != np.dtype(dtype):
            return x.to(ember.dtypes.from_np(np.dtype(dtype)))
        return x
    arr = np.asarray(x)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype.kind == "f" and arr.dtype != np.dtype(_FLOATX):
        arr = arr.astype(_FLOATX)
    elif arr.dtype.kind == "b":
        pass
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return Tensor._wrap(arr)


def scalar_like(value, like: Tensor) -> Tensor:
    """A 0-d tensor holding ``value`` with ``like``'s dtype and device."""
    xp = ember.backend.xp_of(like._data)
    return Tensor._wrap(xp.asarray(value, dtype=like._data.dtype))


def standardize_shape(shape) -> tuple:
    if shape is None:
        raise ValueError("shape cannot be None")
    if isinstance(shape, int):
        return (shape,)
    return tuple(None if d is None else int(d) for d in shape)
