"""torch.nn.init: in-place initialisers (run without recording gradients) and their helpers.

>>> import ember
>>> from ember import nn
>>> w = ember.empty(3, 5)
>>> _ = nn.init.xavier_uniform_(w)
>>> bool(w.abs().max() <= (6 / 8) ** 0.5)
True
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd import no_grad
from ..errors import mark, with_user_line

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_", "dirac_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
           "trunc_normal_", "sparse_", "uniform", "normal", "constant", "xavier_uniform", "xavier_normal",
           "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse", "dirac", "eye"]


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for ``nonlinearity`` (PyTorch's table)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d",
              "sigmoid")
    if nonlinearity in linear:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise mark(ValueError(f"calculate_gain: negative_slope {param} is not a valid number"))
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise mark(ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; use one of linear, "
                          "conv*d, sigmoid, tanh, relu, leaky_relu, selu"))


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.dim() < 2:
        raise mark(with_user_line(ValueError(
            f"Fan in and fan out can not be computed for tensor with fewer than 2 dimensions (shape "
            f"{tuple(tensor.shape)})"), 3))
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise mark(ValueError(f"mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'"))
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _write(tensor, arr):
    """Store NumPy ``arr`` into ``tensor`` in place (``copy_``: on the tensor's device, versioned)."""
    from ..creation import as_tensor

    with no_grad():
        return tensor.copy_(as_tensor(np.asarray(arr, dtype=tensor._data.dtype)))


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def constant_(tensor, val):
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def eye_(tensor):
    if tensor.dim() != 2:
        raise mark(ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}"))
    return _write(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    if tensor.dim() not in (3, 4, 5):
        raise mark(ValueError(f"dirac_: only 3, 4 or 5-D tensors are supported, got shape "
                              f"{tuple(tensor.shape)}"))
    out = np.zeros(tuple(tensor.shape))
    per = tensor.shape[0] // groups
    centre = tuple(s // 2 for s in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(per, tensor.shape[1])):
            out[(g * per + d, d) + centre] = 1
    return _write(tensor, out)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tuple(tensor.shape):
        return tensor
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tuple(tensor.shape):
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode)), generator)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (sign-corrected)."""
    from ..creation import randn

    if tensor.dim() < 2:
        raise mark(ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape "
                              f"{tuple(tensor.shape)}"))
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = np.asarray(randn(rows, cols, generator=generator, dtype="float64"))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, gain * q.reshape(tuple(tensor.shape)))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Normal(mean, std) values redrawn until they fall in [a, b]."""
    from ..random import numpy_generator

    rng = numpy_generator(generator)
    n = tensor.numel()
    out = rng.normal(mean, std, n)
    bad = (out < a) | (out > b)
    for _ in range(1000):
        if not bad.any():
            break
        out[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    return _write(tensor, np.clip(out, a, b).reshape(tuple(tensor.shape)))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    from ..random import numpy_generator

    if tensor.dim() != 2:
        raise mark(ValueError(f"sparse_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}"))
    rng = numpy_generator(generator)
    rows, cols = tensor.shape
    out = rng.normal(0.0, std, (rows, cols))
    nz = int(math.ceil(sparsity * rows))
    for c in range(cols):
        out[rng.permutation(rows)[:nz], c] = 0
    return _write(tensor, out)


# the deprecated names without the underscore: each warns (FutureWarning, as PyTorch's) and calls the in-place
# form; the second argument is the argument list of the docstring's example
def _deprecated(new, example):
    old = new.__name__[:-1]

    def fn(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{old}_`.", FutureWarning,
                      stacklevel=2)
        return new(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = old
    fn.__doc__ = (f"Deprecated: warns, then calls ``{old}_`` (same arguments, same in-place result).\n\n"
                  ">>> import warnings, ember\n>>> from ember import nn\n>>> w = ember.empty(3, 4)\n"
                  ">>> with warnings.catch_warnings(record=True) as caught:\n"
                  "...     warnings.simplefilter('always')\n"
                  f"...     _ = nn.init.{old}({example})\n"
                  ">>> caught[0].category.__name__\n'FutureWarning'\n")
    return fn


uniform = _deprecated(uniform_, "w, -1.0, 1.0")
normal = _deprecated(normal_, "w")
constant = _deprecated(constant_, "w, 0.5")
xavier_uniform = _deprecated(xavier_uniform_, "w")
xavier_normal = _deprecated(xavier_normal_, "w")
kaiming_uniform = _deprecated(kaiming_uniform_, "w")
kaiming_normal = _deprecated(kaiming_normal_, "w")
orthogonal = _deprecated(orthogonal_, "w")
sparse = _deprecated(sparse_, "w, 0.5")
dirac = _deprecated(dirac_, "ember.empty(2, 2, 3)")
eye = _deprecated(eye_, "w")
