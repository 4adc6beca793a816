"""Random primitives: no inputs, drawn from the default generator when they run (so a compiled graph draws
fresh numbers on every call)."""
from __future__ import annotations

from ..dtypes import from_name
from ._core import Aval, register


def _draw(kind, shape, dtype, device, **params):
    from .. import backend
    from ..random import default_generator

    arr = getattr(default_generator._np, kind)(size=shape, **params).astype(from_name(dtype).np, copy=False)
    return backend.to_device(arr, backend.device(device))


register("uniform", lambda xp, shape, dtype, low=0.0, high=1.0, device="cpu":
         _draw("uniform", shape, dtype, device, low=low, high=high),
         infer=lambda shape, dtype, device="cpu", **_: Aval(shape, from_name(dtype), device), kind="random")
register("normal", lambda xp, shape, dtype, mean=0.0, std=1.0, device="cpu":
         _draw("normal", shape, dtype, device, loc=mean, scale=std),
         infer=lambda shape, dtype, device="cpu", **_: Aval(shape, from_name(dtype), device), kind="random")
