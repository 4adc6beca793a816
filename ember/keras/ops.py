"""``keras.ops``: NumPy-like and neural-network ops on Ember tensors, for custom layers, losses and metrics.

Inputs may be Ember tensors, NumPy arrays or Python numbers; outputs are Ember tensors, so gradients flow
through Ember's autograd.

>>> from ember.keras import ops
>>> x = ops.convert_to_tensor([[1.0, 2.0], [3.0, 4.0]])
>>> ops.convert_to_numpy(ops.sum(ops.matmul(x, x), axis=0)).tolist()
[22.0, 32.0]
"""

from __future__ import annotations

import builtins

import numpy as np

import ember
from ember import functional as F
from ember.tensor import Tensor

from .backend import convert, to_numpy

_c = convert


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _pair(x, y):
    if not isinstance(x, Tensor) and isinstance(y, Tensor):
        return y.new_tensor(np.asarray(x, dtype=y._data.dtype)) if np.ndim(x) else x, y
    return _c(x), y if isinstance(y, Tensor) else y


# -- creation / conversion ---------------------------------------------------------------------------------
def convert_to_tensor(x, dtype=None):
    return _c(x, dtype)


def convert_to_numpy(x):
    return to_numpy(x)


def cast(x, dtype):
    return _c(x).to(ember.dtypes.from_np(np.dtype(dtype)))


def shape(x):
    return tuple(_c(x).shape)


def zeros(shape, dtype="float32"):
    return _c(np.zeros(shape, dtype))


def ones(shape, dtype="float32"):
    return _c(np.ones(shape, dtype))


def full(shape, fill_value, dtype="float32"):
    return _c(np.full(shape, fill_value, dtype))


def zeros_like(x, dtype=None):
    return ember.zeros_like(_c(x)) if dtype is None else zeros(tuple(_c(x).shape), dtype)


def ones_like(x, dtype=None):
    return ember.ones_like(_c(x)) if dtype is None else ones(tuple(_c(x).shape), dtype)


def arange(start, stop=None, step=1, dtype=None):
    return _c(np.arange(start, stop, step, dtype=dtype))


def eye(n, m=None, dtype="float32"):
    return _c(np.eye(n, m, dtype=dtype))


def stop_gradient(x):
    return _c(x).detach()


# -- arithmetic ----------------------------------------------------------------------------------------
def add(x, y):
    return _c(x) + y


def subtract(x, y):
    return _c(x) - y


def multiply(x, y):
    return _c(x) * y


def divide(x, y):
    return _c(x) / y


def power(x, y):
    return _c(x) ** y


def negative(x):
    return -_c(x)


def matmul(x, y):
    return F.matmul(_c(x), _c(y))


def dot(x, y):
    return matmul(x, y)


def einsum(subscripts, *operands):
    return F.einsum(subscripts, *[_c(o) for o in operands])


def maximum(x, y):
    x, y = _c(x), _c(y)
    return F.maximum(x, y.to(x.dtype) if y.dtype != x.dtype else y)


def minimum(x, y):
    x, y = _c(x), _c(y)
    return F.minimum(x, y.to(x.dtype) if y.dtype != x.dtype else y)


def clip(x, x_min, x_max):
    return F.clamp(_c(x), x_min, x_max)


def where(condition, x1=None, x2=None):
    c = _c(condition)
    if x1 is None:
        return F.nonzero(c, as_tuple=True)
    x1 = _c(x1) if isinstance(x1, (Tensor, np.ndarray)) else x1
    return F.where(c, x1, x2)


def _unary(fn):
    def op(x):
        return fn(_c(x))

    op.__name__ = fn.__name__
    op.__doc__ = f"Elementwise ``{fn.__name__}``."
    return op


exp, log, sqrt, square, abs, sign, floor, ceil, sin, cos, tanh, sigmoid, relu, erf, log1p, expm1 = (
    _unary(getattr(F, n))
    for n in (
        "exp",
        "log",
        "sqrt",
        "square",
        "abs",
        "sign",
        "floor",
        "ceil",
        "sin",
        "cos",
        "tanh",
        "sigmoid",
        "relu",
        "erf",
        "log1p",
        "expm1",
    )
)
absolute = abs


def round(x, decimals=0):
    return F.round(_c(x), decimals=decimals)


def reciprocal(x):
    return 1.0 / _c(x)


# -- comparisons ----------------------------------------------------------------------------------------
def equal(x, y):
    return F.eq(_c(x), y)


def not_equal(x, y):
    return F.ne(_c(x), y)


def greater(x, y):
    return F.gt(_c(x), y)


def greater_equal(x, y):
    return F.ge(_c(x), y)


def less(x, y):
    return F.lt(_c(x), y)


def less_equal(x, y):
    return F.le(_c(x), y)


def logical_and(x, y):
    return F.logical_and(_c(x), _c(y))


def logical_or(x, y):
    return F.logical_or(_c(x), _c(y))


def logical_not(x):
    return F.logical_not(_c(x))


# -- reductions -----------------------------------------------------------------------------------------
def sum(x, axis=None, keepdims=False):
    return F.sum(_c(x), _axis(axis), keepdims)


def mean(x, axis=None, keepdims=False):
    return F.mean(_c(x), _axis(axis), keepdims)


def max(x, axis=None, keepdims=False):
    x = _c(x)
    return F.amax(x, () if axis is None else _axis(axis), keepdims)


def min(x, axis=None, keepdims=False):
    x = _c(x)
    return F.amin(x, () if axis is None else _axis(axis), keepdims)


def prod(x, axis=None, keepdims=False):
    return F.prod(_c(x), axis, keepdims)


def var(x, axis=None, keepdims=False):
    return F.var(_c(x), _axis(axis), keepdim=keepdims, correction=0)


def std(x, axis=None, keepdims=False):
    return F.std(_c(x), _axis(axis), keepdim=keepdims, correction=0)


def argmax(x, axis=None, keepdims=False):
    return F.argmax(_c(x), axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return F.argmin(_c(x), axis, keepdims)


def cumsum(x, axis=None):
    x = _c(x)
    return F.cumsum(x.reshape(-1), 0) if axis is None else F.cumsum(x, axis)


def logsumexp(x, axis=None, keepdims=False):
    x = _c(x)
    axis = tuple(range(x.ndim)) if axis is None else _axis(axis)
    return F.logsumexp(x, axis, keepdims)


def any(x, axis=None, keepdims=False):
    return F.any(_c(x), axis, keepdims)


def all(x, axis=None, keepdims=False):
    return F.all(_c(x), axis, keepdims)


def norm(x, ord=None, axis=None, keepdims=False):
    return F.norm(_c(x), "fro" if ord is None else ord, axis, keepdims)


# -- shapes ---------------------------------------------------------------------------------------------
def reshape(x, newshape):
    return _c(x).reshape(tuple(-1 if d is None else d for d in newshape))


def transpose(x, axes=None):
    x = _c(x)
    return x.permute(*(reversed(range(x.ndim)) if axes is None else axes))


def expand_dims(x, axis):
    return F.unsqueeze(_c(x), axis)


def squeeze(x, axis=None):
    return F.squeeze(_c(x), axis)


def concatenate(xs, axis=0):
    return F.cat([_c(x) for x in xs], axis)


def stack(xs, axis=0):
    return F.stack([_c(x) for x in xs], axis)


def split(x, indices_or_sections, axis=0):
    return list(F.tensor_split(_c(x), indices_or_sections, axis))


def tile(x, repeats):
    return F.tile(_c(x), tuple(repeats))


def repeat(x, repeats, axis=None):
    return F.repeat_interleave(_c(x), repeats, axis)


def flip(x, axis=None):
    x = _c(x)
    return F.flip(x, tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis)


def take(x, indices, axis=None):
    x, idx = _c(x), _c(indices, "int64")
    if axis is None:
        x, axis = x.reshape(-1), 0
    out = F.index_select(x, axis, idx.reshape(-1))
    shape_ = list(x.shape)
    return out.reshape(tuple(shape_[:axis]) + tuple(idx.shape) + tuple(shape_[axis + 1 :]))


def take_along_axis(x, indices, axis=None):
    return F.take_along_dim(_c(x), _c(indices, "int64"), axis)


def pad(x, pad_width, mode="constant", constant_values=0):
    x = _c(x)
    flat = []
    for before, after in reversed([tuple(p) for p in pad_width]):
        flat += [before, after]
    return F.pad(x, flat, mode, constant_values)


# -- neural-network ops --------------------------------------------------------------------------------
def softmax(x, axis=-1):
    return F.softmax(_c(x), axis)


def log_softmax(x, axis=-1):
    return F.log_softmax(_c(x), axis)


def softplus(x):
    x = _c(x)
    return F.relu(x) + F.log1p(F.exp(-F.abs(x)))


def silu(x):
    x = _c(x)
    return x * F.sigmoid(x)


swish = silu


def gelu(x, approximate=True):
    x = _c(x)
    if approximate:
        return 0.5 * x * (1.0 + F.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1.0 + F.erf(x * 0.7071067811865476))


def elu(x, alpha=1.0):
    x = _c(x)
    return F.where(x > 0, x, alpha * F.expm1(F.minimum(x, ember.zeros_like(x))))


def selu(x):
    return 1.0507009873554805 * elu(x, 1.6732632423543772)


def leaky_relu(x, negative_slope=0.2):
    x = _c(x)
    return F.where(x > 0, x, x * negative_slope)


def relu6(x):
    return F.clamp(_c(x), 0.0, 6.0)


def hard_sigmoid(x):
    return F.clamp(_c(x) / 6.0 + 0.5, 0.0, 1.0)


def one_hot(x, num_classes, axis=-1, dtype="float32"):
    idx = to_numpy(x).astype(np.int64)
    out = np.eye(num_classes, dtype=dtype)[idx]
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return _c(out)


def moments(x, axes, keepdims=False):
    x = _c(x)
    m = F.mean(x, tuple(axes), True)
    v = F.mean(F.square(x - m), tuple(axes), keepdims)
    return (m if keepdims else F.mean(x, tuple(axes), False)), v


def normalize(x, axis=-1, order=2):
    x = _c(x)
    return x / F.clamp(F.norm(x, order, axis, True), min=1e-12)


def top_k(x, k, sorted=True):
    return F.topk(_c(x), k, -1, True, sorted)


def in_top_k(targets, predictions, k):
    p, t = to_numpy(predictions), to_numpy(targets).astype(np.int64)
    target_score = np.take_along_axis(p, t[:, None], 1)
    return _c((p > target_score).sum(1) < k)


def binary_crossentropy(target, output, from_logits=False):
    from . import losses

    return losses.binary_crossentropy(target, output, from_logits=from_logits)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    from . import losses

    return losses.categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    from . import losses

    return losses.sparse_categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


def size(x):
    return builtins.int(np.prod(_c(x).shape))
