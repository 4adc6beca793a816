"""More of PyTorch's Tensor methods: front doors to existing functions (``x.argwhere()``, ``x.isposinf()``,
``x.bernoulli()``), random in-place fills (``exponential_``, ``cauchy_``, ``log_normal_``, ``geometric_``),
``fill_diagonal_``, ``put``/``put_``, Python-callable maps (``apply_``, ``map_``, ``map2_``), in-place shifts,
``unsafe_*`` split aliases and a few attributes (``data_ptr``, ``dim_order``, ``is_pinned``). Installed by
``install()``, which never replaces a method the core already defines.

>>> import ember
>>> x = ember.zeros(3, 3)
>>> x.fill_diagonal_(2.0)[1].tolist()
[0.0, 2.0, 0.0]
>>> ember.tensor([1.0, 2.0]).apply_(lambda v: v * 10).tolist()
[10.0, 20.0]
"""
from __future__ import annotations

import math

from . import backend
from ._state import STATE
from ._tensor_more import write_into
from .errors import mark, with_user_line

F = C = None  # installed by ember/_wiring.py: ember.functional, ember.creation

# x.<name>(...) -> ember.<name>(x, ...)
FORWARDED = "argwhere broadcast_to histogram isneginf isposinf isreal multinomial".split()
# x.<name>_(...) computes x.<name>(...) and writes it into x
IN_PLACE = "bitwise_left_shift bitwise_right_shift".split()
ALIASES = {"unsafe_chunk": "chunk", "unsafe_split": "split", "unsafe_split_with_sizes": "split_with_sizes",
           "char": None}


def _forward(module_name, name):
    def method(self, *args, **kwargs):
        return getattr(globals()[module_name], name)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"See ``ember.{name}``."
    return method


def _in_place(name):
    def method(self, *args, **kwargs):
        return write_into(self, getattr(self, name)(*args, **kwargs), name + "_")

    method.__name__ = name + "_"
    return method


def _sampled(name, draw):
    """An in-place random fill ``x.<name>(...)``: ``draw(shape, generator, **params)`` gives float64 samples."""
    def method(self, *args, generator=None, **params):
        if not self.is_floating_point():
            raise mark(with_user_line(TypeError(f"{name}: expects a floating point tensor, got {self.dtype.name}"), 2))
        with _no_grad():
            return self.copy_(draw(tuple(self.shape), generator, *args, **params).to(self.dtype))

    method.__name__ = name
    return method


class _no_grad:
    def __enter__(self):
        self.prev, STATE.grad_enabled = STATE.grad_enabled, False

    def __exit__(self, *exc):
        STATE.grad_enabled = self.prev


def _uniform(shape, generator):
    return C.rand(*shape, generator=generator, dtype="float64")


def _positive(name, value):
    if not value > 0:
        raise mark(with_user_line(ValueError(f"{name}: expects a positive parameter, got {value}"), 4))


def _exponential(shape, generator, lambd=1.0):
    _positive("exponential_", lambd)
    return -F.log1p(-_uniform(shape, generator)) / lambd  # inverse CDF; 1 - u keeps log away from 0


def _cauchy(shape, generator, median=0.0, sigma=1.0):
    return median + sigma * F.tan(math.pi * (_uniform(shape, generator) - 0.5))


def _log_normal(shape, generator, mean=1.0, std=2.0):
    _positive("log_normal_", std)
    return F.exp(C.randn(*shape, generator=generator, dtype="float64") * std + mean)


def _geometric(shape, generator, p):
    if not 0 < p <= 1:
        raise mark(with_user_line(ValueError(f"geometric_: expects 0 < p <= 1, got {p}"), 3))
    # trials until the first success, from 1: ceil(log(1 - u) / log(1 - p)) (p = 1: always 1)
    if p == 1:
        return C.ones(*shape, dtype="float64")
    return F.ceil(F.log1p(-_uniform(shape, generator)) / math.log1p(-p)).clamp(min=1.0)


def fill_diagonal_(self, fill_value, wrap=False):
    """Fill the main diagonal (all indices equal) in place; on a tall 2-D tensor ``wrap=True`` restarts it every
    ``columns + 1`` rows, as PyTorch does."""
    if self.ndim < 2 or (self.ndim > 2 and len(set(self.shape)) != 1):
        raise mark(with_user_line(RuntimeError(
            f"fill_diagonal_: expects a 2-D tensor or one with all dims equal, got shape {tuple(self.shape)}"), 2))
    rows = self.shape[0]
    if self.ndim == 2 and wrap and rows > self.shape[1] + 1:
        index = [i for i in range(rows) if i % (self.shape[1] + 1) < self.shape[1]]
        cols = [i % (self.shape[1] + 1) for i in index]
    else:
        index = cols = list(range(min(self.shape)))
    key = (C.tensor(index),) + (C.tensor(cols),) * (self.ndim - 1)
    return self.index_put_(key, C.tensor(fill_value, dtype=self.dtype))


def put(self, index, source, accumulate=False):
    """A copy of ``self`` with ``source`` written at flat (row-major) ``index`` positions; summed where
    ``accumulate``."""
    flat = self.reshape(-1)
    n = flat.shape[0]
    if index.numel() and (int(index.min()) < -n or int(index.max()) >= n):
        raise mark(with_user_line(IndexError(
            f"put: index out of range for a tensor of {n} elements (indices {int(index.min())}..{int(index.max())})"),
            2))
    return flat.index_put((index.reshape(-1) % max(n, 1),), source.reshape(-1), accumulate=accumulate) \
        .reshape(self.shape)


def put_(self, index, source, accumulate=False):
    return write_into(self, put(self, index, source, accumulate), "put_")


def _python_map(name, fn, *tensors):
    """``fn`` applied element by element in Python (PyTorch's CPU-only ``apply_``/``map_``: slow by design)."""
    self = tensors[0]
    if self.device.type != "cpu":
        raise mark(with_user_line(RuntimeError(f"{name}: is implemented for CPU tensors only"), 3))
    arrays = [t.expand(self.shape).numpy() if t is not self else t.numpy() for t in tensors]
    values = [fn(*[a.item(i) for a in arrays]) for i in range(self.numel())]
    return write_into(self, C.tensor(values, dtype=self.dtype).reshape(self.shape), name)


def apply_(self, callable):  # noqa: A002  (torch's argument name)
    return _python_map("apply_", callable, self)


def map_(self, tensor, callable):  # noqa: A002
    return _python_map("map_", callable, self, tensor)


def map2_(self, x, y, callable):  # noqa: A002
    return _python_map("map2_", callable, self, x, y)


def data_ptr(self):
    """The address of the first element (NumPy's / CuPy's buffer address)."""
    return backend.data_address(self._data)


def dim_order(self, *, ambiguity_check=False):
    """The dims from outermost to innermost in memory (``(0, 1, 2, 3)`` row-major, ``(0, 2, 3, 1)`` channels
    last): dims sorted by stride, largest first, ties kept in order."""
    strides = self.stride()
    return tuple(sorted(range(self.ndim), key=lambda d: -strides[d]))


def is_pinned(self, device=None):
    return False  # Ember allocates no page-locked host memory


def pin_memory(self, device=None):
    return self  # (page-locked memory only speeds host-to-GPU copies; Ember's copies go through CuPy)


def is_inference(self):
    return False  # ember.inference_mode is no_grad: it makes no inference tensors


def char(self):
    return self.to("int8")


def _bernoulli(self, p=None, *, generator=None):
    """Samples of 0/1 with probabilities ``self`` (or ``p``), as ``torch.bernoulli``."""
    return C.bernoulli(self, p, generator=generator)


def install(tensor_cls) -> None:
    def put_method(name, fn):
        if not hasattr(tensor_cls, name):
            setattr(tensor_cls, name, fn)

    for name in FORWARDED:
        put_method(name, _forward("F", name))
    for name in IN_PLACE:
        put_method(name + "_", _in_place(name))
    for alias, target in ALIASES.items():
        if target is not None:
            put_method(alias, getattr(tensor_cls, target))
    for name, draw in (("exponential_", _exponential), ("cauchy_", _cauchy), ("log_normal_", _log_normal),
                       ("geometric_", _geometric)):
        put_method(name, _sampled(name, draw))
    for fn in (fill_diagonal_, put, put_, apply_, map_, map2_, data_ptr, dim_order, is_pinned, pin_memory,
               is_inference, char):
        put_method(fn.__name__, fn)
    put_method("bernoulli", _bernoulli)
