"""Random primitives: no inputs, drawn from the default generator when they run (so a compiled graph draws
fresh numbers on every call, in the order eager code draws them); and keyed draws (``keyed_uniform`` /
``keyed_normal``), whose numbers are a function of their one input, a ``[seed, counter]`` int64 key (Keras's
``SeedGenerator`` state): the key is graph state, so a compiled graph draws what eager code draws."""
from __future__ import annotations

import numpy as np

from ..dtypes import from_name
from . import _tflite
from ._core import Aval, register, register_lowering, unsupported


def _draw(kind, shape, dtype, device, **params):
    from .. import backend
    from ..random import default_generator

    arr = getattr(default_generator._np, kind)(size=shape, **params).astype(from_name(dtype).np, copy=False)
    return backend.to_device(arr, backend.device(device))


def _randperm(xp, n, dtype, device="cpu"):
    from .. import backend
    from ..random import default_generator

    arr = default_generator._np.permutation(n).astype(from_name(dtype).np, copy=False)
    return backend.to_device(arr, backend.device(device))


def _shaped(shape, dtype, device="cpu", **_):
    return Aval(shape, from_name(dtype), device)


def _keyed(kind, key, shape, dtype, device, **params):
    """Numbers drawn from a generator seeded with ``key`` = ``[seed, counter]``: the same key, the same numbers
    (on every device: drawn on the CPU)."""
    from .. import backend

    arr = getattr(_key_rng(key), kind)(size=shape, **params).astype(from_name(dtype).np, copy=False)
    return backend.to_device(arr, backend.device(device))


def _keyed_shape(key, shape, dtype, device="cpu", **_):
    return Aval(shape, from_name(dtype), device)


register("uniform", lambda xp, shape, dtype, low=0.0, high=1.0, device="cpu":
         _draw("uniform", shape, dtype, device, low=low, high=high), infer=_shaped, kind="random")
register("normal", lambda xp, shape, dtype, mean=0.0, std=1.0, device="cpu":
         _draw("normal", shape, dtype, device, loc=mean, scale=std), infer=_shaped, kind="random")
register("randint", lambda xp, shape, dtype, low, high, device="cpu":
         _draw("integers", shape, dtype, device, low=low, high=high), infer=_shaped, kind="random")
register("keyed_uniform", lambda xp, key, shape, dtype, low=0.0, high=1.0, device="cpu":
         _keyed("uniform", key, shape, dtype, device, low=low, high=high), infer=_keyed_shape, kind="random")
register("keyed_normal", lambda xp, key, shape, dtype, mean=0.0, std=1.0, device="cpu":
         _keyed("normal", key, shape, dtype, device, loc=mean, scale=std), infer=_keyed_shape, kind="random")


# -- draws with parameters (gamma, beta, binomial, poisson): the parameters are inputs, broadcast to ``shape``;
# sampled by NumPy's generator on the CPU (exact algorithms), then moved to the device
def _param_sample(op, rng, kind, params, shape, dtype, device):
    from .. import backend

    values = [np.broadcast_to(np.asarray(backend.to_device(p, backend.CPU), dtype="float64"), shape)
              for p in params]
    if kind == "binomial":
        counts, probs = values
        if (counts < 0).any() or (counts != np.floor(counts)).any():
            raise ValueError(f"{op}: counts must be whole numbers >= 0, got min {counts.min()}")
        if not ((probs >= 0) & (probs <= 1)).all():
            raise ValueError(f"{op}: probabilities must lie in [0, 1], got range [{probs.min()}, {probs.max()}]")
        values = [counts.astype("int64"), probs]
    elif kind == "poisson":
        if not (values[0] >= 0).all():
            raise ValueError(f"{op}: the poisson rate must be >= 0, got min {values[0].min()}")
    elif not all((v > 0).all() for v in values):
        raise ValueError(f"{op}: the {kind} parameters must be > 0, got min {min(v.min() for v in values)}")
    arr = getattr(rng, kind)(*values, size=shape).astype(from_name(dtype).np, copy=False)
    return backend.to_device(arr, backend.device(device))


def _key_rng(key):
    from .. import backend

    words = [int(v) % (2 ** 64) for v in backend.to_device(key, backend.CPU).reshape(-1)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


def _param_draws(kind):
    """Register ``kind`` (from Ember's default generator) and ``keyed_<kind>`` (from a ``[seed, counter]`` key)."""
    from ..random import default_generator

    def drawn(xp, *params, shape, dtype, device="cpu"):
        return _param_sample(kind, default_generator._np, kind, params, shape, dtype, device)

    def keyed(xp, key, *params, shape, dtype, device="cpu"):
        return _param_sample(f"keyed_{kind}", _key_rng(key), kind, params, shape, dtype, device)

    def infer(*avals, shape, dtype, device="cpu", **_):
        return Aval(tuple(shape), from_name(dtype), device)

    register(kind, drawn, infer=infer, kind="random")
    register(f"keyed_{kind}", keyed, infer=infer, kind="random")


for _kind in ("gamma", "beta", "binomial", "poisson"):
    _param_draws(_kind)


register("randperm", _randperm, infer=lambda n, dtype, device="cpu": Aval((n,), from_name(dtype), device),
         kind="random")


# -- ONNX: the runtime draws from its own generator (values differ from Ember's; the distribution is the same)
def _random_onnx(op_type, lo, hi):
    def lower(ctx, node):
        a = node.attrs
        ctx.emit(op_type, [], [ctx.output(node)], shape=[int(d) for d in a["shape"]], dtype=ctx.dtype(a["dtype"]),
                 **{lo[0]: float(a.get(lo[1], lo[2])), hi[0]: float(a.get(hi[1], hi[2]))})

    return lower


register_lowering("uniform", "onnx", _random_onnx("RandomUniform", ("low", "low", 0.0), ("high", "high", 1.0)))
register_lowering("normal", "onnx", _random_onnx("RandomNormal", ("mean", "mean", 0.0), ("scale", "std", 1.0)))
unsupported("keyed_uniform", "onnx", "ONNX's RandomUniform cannot take its seed from a tensor; draw with the "
            "default generator (a SeedGenerator with seed=None) or call model.eval() before exporting")
unsupported("keyed_normal", "onnx", "ONNX's RandomNormal cannot take its seed from a tensor; draw with the "
            "default generator (a SeedGenerator with seed=None) or call model.eval() before exporting")
unsupported("randint", "onnx", "ONNX has no integer random draw with Ember's semantics; draw outside the model "
            "and pass the values as an input")
unsupported("randperm", "onnx", "ONNX has no random permutation; pass the permutation as an input")
for _kind in ("gamma", "beta", "binomial", "poisson"):
    for _name in (_kind, f"keyed_{_kind}"):
        unsupported(_name, "onnx", f"ONNX has no {_kind} draw; draw outside the model and pass the values as an input")


_tflite.mark(["uniform", "normal", "keyed_uniform", "keyed_normal"],
             "random draws (dropout in training mode): call model.eval() before exporting")
_tflite.mark(["randint", "randperm", "gamma", "keyed_gamma", "beta", "keyed_beta", "binomial", "keyed_binomial",
              "poisson", "keyed_poisson"],
             "random draws: draw outside the model and pass the values as an input")
