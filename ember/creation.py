"""Tensor creation: tensor, as_tensor, from_numpy, zeros/ones/full/empty/eye/arange/linspace, random tensors."""
from __future__ import annotations

import functools
import math

import numpy as np

from . import backend, dtypes
from . import memory_format as _mf
from ._out_arg import write_out
from .errors import mark, with_user_line
from .ops import apply
from .random import numpy_generator
from .tensor import Tensor

_DEFAULT_DEVICE = backend.DEFAULT_DEVICE  # set_default_device and `with ember.device(...)` change it


def _device(device):
    return _DEFAULT_DEVICE[0] if device is None else backend.device(device)


def set_default_device(device) -> None:
    """Where factory functions (``zeros``, ``randn``, ``tensor``, layer parameters ...) put tensors when no
    ``device`` is given (``torch.set_default_device``); None restores the CPU.

    >>> import ember
    >>> ember.set_default_device("cpu"); ember.zeros(2).device
    device(type='cpu')
    """
    dev = backend.CPU if device is None else backend.device(device)
    if dev.type == "cuda" and not backend.cuda_available():
        raise mark(with_user_line(RuntimeError(
            f"set_default_device({str(dev)!r}): no CUDA device is available (CuPy with a GPU is needed: pip "
            "install 'ember[cuda]'); keep the default 'cpu' on this machine"), 2))
    _DEFAULT_DEVICE[0] = dev


def get_default_device():
    """The device of ``set_default_device`` (the CPU unless changed)."""
    return _DEFAULT_DEVICE[0]


def _np_dtype_for(data, dtype):
    if dtype is not None:
        return dtypes.to_np(dtype)
    try:
        arr = np.asarray(data)
    except ValueError:  # NumPy refuses ragged nested lists
        arr = np.empty(0, dtype=object)
    if arr.dtype.kind == "f" and not isinstance(data, (np.ndarray, np.generic)):
        return dtypes.get_default_dtype().np  # Python floats -> float32 by default
    if arr.dtype.kind in "iu" and not isinstance(data, (np.ndarray, np.generic)):
        return np.dtype(np.int64)
    if arr.dtype.kind == "c" and not isinstance(data, (np.ndarray, np.generic)):
        return dtypes.default_complex().np  # Python complex numbers -> complex64 by default, as PyTorch
    if arr.dtype.kind == "O":
        raise mark(with_user_line(TypeError(
            f"could not make a tensor from {type(data).__name__}: ragged nested sequences or non-numeric items"), 4))
    if arr.dtype.kind in "US":
        raise mark(with_user_line(TypeError("tensors cannot hold strings"), 4))
    return arr.dtype


def _to_array(data, dtype=None, device=None, copy=True):
    """An array of ``data`` (nested lists, scalars, NumPy arrays, tensors) on ``device``."""
    if isinstance(data, Tensor):  # through ops (cast, to_device, copy), so a graph tracer sees the copy
        t = data.detach()
        if dtype is not None:
            t = t.to(dtypes.as_dtype(dtype))
        if device is not None:
            t = t.to(_device(device))
        return t.clone()._data if copy and t._data is data._data else t._data
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
        data = _nested_to_numpy(data)
    if backend.is_array(data) and not isinstance(data, np.ndarray):  # a cupy array
        arr = data.astype(dtypes.to_np(dtype), copy=copy) if dtype is not None else (data.copy() if copy else data)
        return backend.to_device(arr, _device(device))
    npdt = _np_dtype_for(data, dtype)
    try:
        arr = np.array(data, dtype=npdt, copy=copy) if copy else np.asarray(data, dtype=npdt)
    except (ValueError, TypeError) as e:
        raise mark(with_user_line(TypeError(f"could not convert {type(data).__name__} to a tensor: {e}"), 3)) from None
    dtypes.from_np(arr.dtype)  # rejects unsupported dtypes with a clear message
    return backend.to_device(arr, _device(device))


def _flat(seq):
    for s in seq:
        if isinstance(s, (list, tuple)):
            yield from _flat(s)
        else:
            yield s


def _nested_to_numpy(seq):
    if isinstance(seq, Tensor):
        return seq.detach().numpy()
    if isinstance(seq, (list, tuple)):
        return [_nested_to_numpy(s) for s in seq]
    return seq


def _finish(arr, requires_grad):
    t = Tensor._created(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data``.

    >>> tensor([[1, 2], [3, 4]]).dtype
    ember.int64
    """
    return _finish(_to_array(data, dtype, device), requires_grad)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """``torch.asarray``: ``obj`` as a tensor, sharing memory where dtype and device allow unless ``copy``;
    ``copy=False`` refuses to copy.

    >>> asarray([1.0, 2.0]).dtype
    ember.float32
    """
    shared = as_tensor(obj, dtype, device) if copy is not True else tensor(obj, dtype=dtype, device=device)
    if copy is False and isinstance(obj, Tensor) and shared is not obj:
        raise mark(ValueError("asarray: copy=False, but the dtype or device asked for needs a copy"))
    if requires_grad:
        shared = shared.detach().requires_grad_(True) if shared is obj else shared.requires_grad_(True)
    return shared


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with NumPy arrays and tensors when dtype and device allow."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype is dtypes.as_dtype(dtype)) and (
            device is None or data.device == _device(device)):
        return data
    return Tensor._wrap(_to_array(data, dtype, device, copy=False))


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray`` (zero-copy; writes show on both sides)."""
    if not isinstance(ndarray, np.ndarray):
        raise mark(with_user_line(TypeError(f"from_numpy expects a numpy.ndarray, got {type(ndarray).__name__}"), 2))
    dtypes.from_np(ndarray.dtype)
    return Tensor._wrap(ndarray)


def from_dlpack(ext_tensor) -> Tensor:
    """A tensor sharing memory with ``ext_tensor`` (zero-copy): any object with ``__dlpack__`` (a NumPy or CuPy
    array, a torch or JAX tensor) or a CPU DLPack capsule. CPU memory stays on the CPU, CUDA memory on its GPU.

    >>> import numpy as np
    >>> a = np.zeros(2, dtype=np.float32)
    >>> t = from_dlpack(a)
    >>> a[1] = 3.0; t
    tensor([0., 3.])
    """
    try:
        arr = backend.dlpack_import(ext_tensor)
    except (BufferError, TypeError, ValueError, RuntimeError) as exc:
        hint = "" if isinstance(exc, TypeError) else (" (Ember reads DLPack through NumPy on the CPU and CuPy on "
                                                      "CUDA: bool, integer, float and complex dtypes)")
        raise mark(with_user_line(type(exc)(f"from_dlpack: {exc}{hint}"), 2)) from None
    dtypes.from_np(arr.dtype)  # a dtype Ember does not have is named here
    return Tensor._wrap(arr)


def _size_kw(size, kw, fn):
    """torch's ``zeros(size=(2, 3))`` spelling: ``size`` as a keyword instead of positional sizes."""
    if not kw:
        return size
    if set(kw) != {"size"}:
        bad = sorted(set(kw) - {"size"})[0]
        raise mark(with_user_line(TypeError(f"{fn}() got an unexpected keyword argument {bad!r}"), 3))
    if size:
        raise mark(with_user_line(TypeError(
            f"{fn}() got sizes {tuple(size)} positionally and size={kw['size']!r}; give one of them"), 3))
    return (kw["size"],)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or s < 0:
            raise mark(with_user_line(ValueError(
                f"sizes must be non-negative integers, got {tuple(size)}"), 4))
    return tuple(int(s) for s in size)


def _torch_keywords(fn):
    """PyTorch's other creation keywords on ``fn``: ``out=`` (the result written into that tensor, which is
    returned; its dtype is the default one), ``layout=`` (only ``ember.strided``), ``pin_memory=`` (page-locked
    host memory only speeds CUDA copies: no effect) and ``memory_format=`` (the result's layout, e.g.
    ``ember.channels_last``)."""
    name = fn.__name__

    @functools.wraps(fn)
    def create(*args, out=None, layout=None, pin_memory=False, memory_format=None, **kw):
        _mf.check_layout(name, layout)
        if out is not None:
            if not isinstance(out, Tensor):
                raise mark(with_user_line(TypeError(f"{name}: out must be a tensor, got {type(out).__name__}"), 2))
            if kw.get("dtype") is None:
                kw["dtype"] = out.dtype
            kw.setdefault("device", out.device)
        result = fn(*args, **kw)
        if memory_format is not None and memory_format is not _mf.preserve_format:
            result = result.contiguous(memory_format=memory_format)
        return result if out is None else write_out(name, out, result, exact_dtype=True)

    return create


def _filled(fill, size, dtype, device, requires_grad, default=None):
    dt = dtypes.to_np(dtype) if dtype is not None else (default or dtypes.get_default_dtype().np)
    xp = backend.xp_for(_device(device))
    try:
        arr = xp.full(_size(size), fill, dtype=dt) if fill is not None else xp.empty(_size(size), dtype=dt)
    except Exception as exc:  # a device allocation that failed: say what and how much memory is in use
        if backend.is_out_of_memory(exc):
            raise mark(with_user_line(backend.out_of_memory(
                f"creating a tensor of shape {_size(size)} ({np.dtype(dt).name}) on {_device(device)}", exc), 3)) \
                from None
        raise
    return _finish(arr, requires_grad)


@_torch_keywords
def zeros(*size, dtype=None, device=None, requires_grad=False, **kw):
    return _filled(0, _size_kw(size, kw, "zeros"), dtype, device, requires_grad)


@_torch_keywords
def ones(*size, dtype=None, device=None, requires_grad=False, **kw):
    return _filled(1, _size_kw(size, kw, "ones"), dtype, device, requires_grad)


@_torch_keywords
def empty(*size, dtype=None, device=None, requires_grad=False, **kw):
    return _filled(None, _size_kw(size, kw, "empty"), dtype, device, requires_grad)


@_torch_keywords
def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    return _filled(fill_value, tuple(size) if not isinstance(size, int) else (size,), dtype, device, requires_grad)


def _like(fn, input, dtype, device, requires_grad, *args):
    return fn(*args, *input.shape, dtype=dtype or input.dtype, device=device or input.device,
              requires_grad=requires_grad)


@_torch_keywords
def zeros_like(input, *, dtype=None, device=None, requires_grad=False):
    return _like(zeros, input, dtype, device, requires_grad)


@_torch_keywords
def ones_like(input, *, dtype=None, device=None, requires_grad=False):
    return _like(ones, input, dtype, device, requires_grad)


@_torch_keywords
def empty_like(input, *, dtype=None, device=None, requires_grad=False):
    return _like(empty, input, dtype, device, requires_grad)


@_torch_keywords
def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    return full(tuple(input.shape), fill_value, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


@_torch_keywords
def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    xp = backend.xp_for(_device(device))
    return _finish(xp.eye(n, m, dtype=dtypes.to_np(dtype or dtypes.get_default_dtype())), requires_grad)


@_torch_keywords
def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise mark(with_user_line(ValueError("arange: step must be nonzero"), 2))
    if dtype is None:
        dtype = dtypes.get_default_dtype() if any(isinstance(v, float) for v in vals) else dtypes.int64
    n = max(math.ceil((vals[1] - vals[0]) / vals[2]), 0)
    xp = backend.xp_for(_device(device))
    arr = (xp.arange(n, dtype=np.float64) * vals[2] + vals[0]).astype(dtypes.to_np(dtype))
    return _finish(arr, requires_grad)


@_torch_keywords
def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    xp = backend.xp_for(_device(device))
    return _finish(xp.linspace(start, end, int(steps)).astype(dtypes.to_np(dtype or dtypes.get_default_dtype())),
                   requires_grad)


@_torch_keywords
def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    exponents = linspace(start, end, steps, dtype=dtypes.float64, device=device)._data  # (device: was ignored)
    return _finish((base ** exponents).astype(dtypes.to_np(dtype or dtypes.get_default_dtype())), requires_grad)


# -- random ---------------------------------------------------------------------------------------------------
def _random(kind, size, dtype, device, requires_grad, generator, **params):
    size = _size(size)
    dt = dtypes.as_dtype(dtype or dtypes.get_default_dtype())
    if not dt.is_floating_point:
        raise mark(with_user_line(TypeError(f"{'rand' if kind == 'uniform' else 'randn'}: dtype must be floating "
                                            f"point, got {dt.name}"), 3))
    dev = str(_device(device))
    if generator is None:  # through the primitive, so a traced graph draws fresh numbers every call
        t = apply(kind, shape=size, dtype=dt.name, device=dev, **params)
    else:
        gen = numpy_generator(generator)
        arr = getattr(gen, kind)(size=size, **{("loc" if k == "mean" else "scale" if k == "std" else k): v
                                               for k, v in params.items()})
        t = Tensor._wrap(backend.to_device(arr.astype(dt.np), _device(device)))
    if requires_grad:
        t.requires_grad_(True)
    return t


@_torch_keywords
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    return _random("uniform", _size_kw(size, kw, "rand"), dtype, device, requires_grad, generator, low=0.0, high=1.0)


@_torch_keywords
def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    return _random("normal", _size_kw(size, kw, "randn"), dtype, device, requires_grad, generator, mean=0.0, std=1.0)


@_torch_keywords
def rand_like(input, *, dtype=None, device=None, requires_grad=False):
    return rand(*input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


@_torch_keywords
def randn_like(input, *, dtype=None, device=None, requires_grad=False):
    return randn(*input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


@_torch_keywords
def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None):
    if size is None and isinstance(high, (tuple, list)) or type(high).__name__ == "Size":
        low, high, size = 0, low, high  # PyTorch's randint(high, size) overload
    if high is None:
        low, high = 0, low
    if size is None:
        raise mark(with_user_line(TypeError("randint: size is required, e.g. randint(0, 10, (3,))"), 2))
    dt = dtypes.as_dtype(dtype or dtypes.int64)
    if generator is None:  # the primitive: a compiled graph draws fresh numbers every call
        return apply("randint", shape=_size(size), dtype=dt.name, low=int(low), high=int(high),
                     device=str(_device(device)))
    arr = numpy_generator(generator).integers(low, high, size=tuple(size))
    return Tensor._wrap(backend.to_device(arr.astype(dt.np), _device(device)))


@_torch_keywords
def randint_like(input, low, high=None, *, dtype=None, device=None, requires_grad=False):
    out = randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, device=device or input.device)
    return out.requires_grad_(True) if requires_grad else out


@_torch_keywords
def randperm(n, *, generator=None, dtype=None, device=None):
    dt = dtypes.as_dtype(dtype or dtypes.int64)
    if generator is None:
        return apply("randperm", n=int(n), dtype=dt.name, device=str(_device(device)))
    arr = numpy_generator(generator).permutation(int(n))
    return Tensor._wrap(backend.to_device(arr.astype(dt.np), _device(device)))


@_torch_keywords
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None):
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        shape = tuple((mean if isinstance(mean, Tensor) else std).shape)
        return randn(*shape, generator=generator, dtype=dtype, device=device) * std + mean
    return _random("normal", size or (), dtype, device, False, generator, mean=float(mean), std=float(std))


def bernoulli(input, p=None, *, generator=None):
    probs = input if p is None else full_like(input, p)
    u = rand(*input.shape, generator=generator, dtype=input.dtype, device=input.device)
    return (u < probs.detach()).to(input.dtype)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    gen = numpy_generator(generator)
    probs = input.detach().double().numpy()
    probs2 = probs.reshape(-1, probs.shape[-1])
    rows = []
    for row in probs2:
        rows.append(gen.choice(len(row), size=num_samples, replace=replacement, p=row / row.sum()))
    out = np.stack(rows).astype(np.int64)
    return Tensor._wrap(backend.to_device(out.reshape(probs.shape[:-1] + (num_samples,)), input.device))


def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """An uninitialised tensor of ``size`` whose elements lie ``stride`` elements apart along each dim (a
    view of a buffer just large enough), as ``torch.empty_strided``.

    >>> empty_strided((2, 3), (1, 2)).stride()
    (1, 2)
    """
    _mf.check_layout("empty_strided", layout)
    size, stride = _size((tuple(size),)), tuple(int(s) for s in stride)
    if len(stride) != len(size) or any(s < 0 for s in stride):
        raise mark(with_user_line(ValueError(
            f"empty_strided: expected {len(size)} non-negative strides for size {size}, got {stride}"), 2))
    extent = 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    flat = empty(extent, dtype=dtype, device=device)
    item = flat._data.dtype.itemsize
    arr = backend.as_strided(flat._data, size, tuple(s * item for s in stride))
    return _finish(arr, requires_grad)
