"""``ember.autocast``: PyTorch's autocast context manager / decorator (the op lists are in ``ember/_autocast``)."""
from __future__ import annotations

import functools
import warnings

from .. import backend, dtypes
from .._autocast import AutocastState
from .._state import STATE
from ..errors import mark, with_user_line

DEFAULT_DTYPE = {"cpu": "bfloat16", "cuda": "float16"}
SUPPORTED = {"cpu": ("bfloat16", "float16"), "cuda": ("float16", "bfloat16")}


def _dtype_name(dtype, device_type) -> str:
    if dtype is None:
        name = DEFAULT_DTYPE[device_type]
    elif isinstance(dtype, dtypes.DType):
        name = dtype.name
    else:
        name = dtypes.as_dtype(dtype).name
    if name == "bfloat16" and dtypes.bfloat16 is None:
        raise mark(with_user_line(RuntimeError(
            "autocast to bfloat16 needs the ml_dtypes package (NumPy has no bfloat16): "
            "pip install 'ember[amp]', or use dtype=ember.float16"), 4))
    return name


class autocast:  # noqa: N801  (torch.autocast)
    """Run the ops of a region in mixed precision, as ``torch.autocast``.

    Inside, the ops PyTorch lists as safe in low precision (matmul, linear, conv, ...) cast their
    floating-point inputs to ``dtype`` (default bfloat16 on CPU, float16 on CUDA) and the ops listed as
    needing range (losses, ``prod``, and on CUDA also ``sum``, ``softmax``, ``layer_norm``, ...) run in float32.
    Backward runs in the dtypes the forward chose. Use it as a context manager or a decorator.

    Example:
        >>> import ember
        >>> lin = ember.nn.Linear(4, 3)
        >>> with ember.autocast(device_type="cpu", dtype=ember.bfloat16):
        ...     y = lin(ember.ones(2, 4))
        ...     loss = ember.nn.functional.mse_loss(y, ember.zeros(2, 3))
        >>> y.dtype, loss.dtype
        (ember.bfloat16, ember.float32)
    """

    def __init__(self, device_type: str = "cuda", dtype=None, enabled: bool = True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise mark(with_user_line(ValueError(
                f"autocast: expected device_type to be a string such as 'cpu' or 'cuda', got {device_type!r}"), 2))
        device_type = device_type.split(":")[0]
        if device_type not in DEFAULT_DTYPE:
            raise mark(with_user_line(ValueError(
                f"autocast: device_type {device_type!r} is not supported by Ember; use 'cpu' or 'cuda'"), 2))
        self.device_type, self.fast_dtype = device_type, None
        self._enabled = bool(enabled)
        self._cache = True if cache_enabled is None else bool(cache_enabled)
        if not self._enabled:
            return
        name = _dtype_name(dtype, device_type)
        if name not in SUPPORTED[device_type]:
            warnings.warn(f"In {device_type.upper()} autocast, but the target dtype {name} is not supported "
                          f"(use one of {', '.join(SUPPORTED[device_type])}). Disabling autocast.", stacklevel=2)
            self._enabled = False
            return
        if device_type == "cuda" and not backend.cuda_available():
            warnings.warn("User provided device_type of 'cuda', but CUDA is not available "
                          f"({backend.cuda_problem()}). Disabling autocast.", stacklevel=2)
            self._enabled = False
            return
        self.fast_dtype = dtypes.from_name(name)

    def __enter__(self):
        self._prev = STATE.autocast
        table = dict(self._prev.dtypes) if self._prev is not None else {}
        table[self.device_type] = self.fast_dtype.name if self._enabled else None
        active = {k: v for k, v in table.items() if v is not None}
        if not active:
            STATE.autocast = None
        elif self._prev is not None and self._prev.dtypes == active:
            STATE.autocast = self._prev  # same settings: keep the outer region's cast cache
        else:
            cache = self._cache and (self._prev is None or self._prev.cache is not None)
            STATE.autocast = AutocastState(active, cache=cache)
        return self

    def __exit__(self, *exc):
        STATE.autocast = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.fast_dtype, self._enabled, self._cache):
                return fn(*args, **kwargs)

        return wrapper


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` (default: CUDA, as ``torch.is_autocast_enabled()``)."""
    state = STATE.autocast
    return state is not None and state.dtypes.get(device_type or "cuda") is not None


def get_autocast_dtype(device_type: str):
    """The lower-precision dtype autocast uses on ``device_type`` (its default when no region is active)."""
    state = STATE.autocast
    name = state.dtypes.get(device_type) if state is not None else None
    return dtypes.from_name(name or DEFAULT_DTYPE[device_type])


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast supports ``device_type`` here (CPU always; CUDA when a GPU is usable)."""
    return device_type == "cpu" or (device_type == "cuda" and backend.cuda_available())


def custom_fwd(fwd=None, *, device_type: str = "cuda", cast_inputs=None):
    """``torch.amp.custom_fwd``: for a ``Function.forward``; with ``cast_inputs``, run it with autocast off on
    inputs cast to that dtype; without, run it under the caller's autocast state."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def wrapper(*args, **kwargs):
        if cast_inputs is None or STATE.autocast is None:
            return fwd(*args, **kwargs)
        name = dtypes.as_dtype(cast_inputs).name
        state = AutocastState({}, cache=False)
        args = tuple(state._cast(a, name) for a in args)
        kwargs = {k: state._cast(v, name) for k, v in kwargs.items()}
        with autocast(device_type, enabled=False):
            return fwd(*args, **kwargs)

    return wrapper


def custom_bwd(bwd=None, *, device_type: str = "cuda"):
    """``torch.amp.custom_bwd``: Ember runs backward with autocast off already, so this only marks it."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd
