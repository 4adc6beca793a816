"""Random primitives: no inputs, drawn from the default generator when they run (so a compiled graph draws
fresh numbers on every call, in the order eager code draws them)."""
from __future__ import annotations

from ..dtypes import from_name
from ._core import Aval, register


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


register("uniform", lambda xp, shape, dtype, low=0.0, high=1.0, device="cpu":
         _draw("uniform", shape, dtype, device, low=low, high=high), infer=_shaped, kind="random")
register("normal", lambda xp, shape, dtype, mean=0.0, std=1.0, device="cpu":
         _draw("normal", shape, dtype, device, loc=mean, scale=std), infer=_shaped, kind="random")
register("randint", lambda xp, shape, dtype, low, high, device="cpu":
         _draw("integers", shape, dtype, device, low=low, high=high), infer=_shaped, kind="random")
register("randperm", _randperm, infer=lambda n, dtype, device="cpu": Aval((n,), from_name(dtype), device),
         kind="random")
