"""The primitive registry and the one dispatch point, ``apply``.

Every primitive goes through ``apply``: eager array math, autograd recording, tracing, anomaly checks and
error diagnosis all hang off it. Keep it thin: it runs once per op call.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .._state import STATE
from ..errors import mark, user_site, with_user_line

REGISTRY: dict[str, Op] = {}
_ndarray = np.ndarray


class Aval:
    """An abstract value: shape and dtype without data (what shape rules and the IR see)."""

    __slots__ = ("shape", "dtype", "device")

    def __init__(self, shape, dtype, device="cpu"):
        self.shape, self.dtype, self.device = tuple(shape), dtype, device

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"Aval({self.shape}, {self.dtype})"


class Op:
    """One primitive: forward on arrays, vjp on Ember tensors, a shape/dtype rule, and flags.

    ``saves``: indices of inputs whose *values* the vjp reads (in-place modification of those is an error);
    ``saves_out``: whether the vjp reads the output; ``view``: the output may share the input's memory.
    """

    __slots__ = ("name", "forward", "vjp", "infer", "saves", "saves_out", "view", "kind", "onnx")

    def __init__(self, name, forward, vjp=None, infer=None, saves=(), saves_out=False, view=False,
                 kind="other", onnx=None):
        self.name, self.forward, self.vjp, self.infer = name, forward, vjp, infer
        # saves: input indices, or "all" / "rest" (every input / every input after the first) for variadic ops
        self.saves = saves if isinstance(saves, str) else tuple(saves)
        self.saves_out, self.view, self.kind, self.onnx = saves_out, view, kind, onnx

    def __repr__(self):
        return f"<op {self.name}>"

    def saved_indices(self, n_inputs: int):
        """Indices of the inputs whose values the vjp reads (resolving "all" / "rest" for ``n_inputs``)."""
        saves = self.saves
        if saves.__class__ is str:
            return range(n_inputs) if saves == "all" else range(1, n_inputs)
        return saves


def register(name, forward, **kw) -> Op:
    if name in REGISTRY:
        raise ValueError(f"primitive {name!r} is already registered")
    op = Op(name, forward, **kw)
    REGISTRY[name] = op
    return op


def get(name: str) -> Op:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no primitive named {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def apply(op, *inputs, **attrs):
    """Run primitive ``op`` (an Op or its name) on Ember tensors ``inputs`` with plain-data ``attrs``."""
    if op.__class__ is str:
        op = REGISTRY[op]
    if STATE.profiler is not None:
        return _profiled(op, inputs, attrs)
    if inputs:
        first = inputs[0]._data
        xp = np if first.__class__ is _ndarray else backend.xp_of(first)
    else:
        xp = backend.xp_for(backend.device(attrs.get("device", "cpu")))
    try:
        out = op.forward(xp, *[t._data for t in inputs], **attrs)
    except Exception as exc:
        raise diagnose(op, inputs, attrs, exc) from None
    if out.__class__ is not _ndarray and xp is np:
        out = np.asarray(out)
    result = Tensor._wrap(out)
    if STATE.grad_enabled and op.vjp is not None:
        for t in inputs:
            if t.requires_grad:
                record(op, inputs, attrs, result)
                break
    if op.view and inputs:
        result._vc = inputs[0]._version_counter()
    if STATE.anomaly:
        check_finite(op, result)
    if STATE.tracer is not None:
        STATE.tracer.record(op, inputs, attrs, result)
    return result


def _profiled(op, inputs, attrs):
    """``apply`` timed for ``ember.profiler`` (the op itself runs with the recorder unset, then it is restored)."""
    rec = STATE.profiler
    STATE.profiler = None
    start = rec.clock()
    result = None
    try:
        result = apply(op, *inputs, **attrs)
        return result
    finally:
        STATE.profiler = rec
        rec.add_op(op, inputs, start, result)


def diagnose(op, inputs, attrs, exc):
    """Turn a failure inside ``op.forward`` into an error naming the op, operands and the user's line."""
    from .. import dtypes

    if op.infer is not None:
        avals = [Aval(t._data.shape, dtypes.from_np(t._data.dtype), str(t.device)) for t in inputs]
        try:
            op.infer(*avals, **attrs)
        except (ValueError, TypeError, IndexError, RuntimeError) as err:
            return mark(with_user_line(err, 3))
    devs = {str(t.device) for t in inputs}
    if len(devs) > 1:
        err = RuntimeError(f"{op.name}: expected all tensors on the same device, found "
                           + " and ".join(sorted(devs))
                           + ". Move them with .to(device) first.")
        return mark(with_user_line(err, 3))
    shapes = ", ".join(f"{tuple(t._data.shape)} {t._data.dtype}" for t in inputs)
    kind = type(exc) if isinstance(exc, (ValueError, TypeError, IndexError)) else RuntimeError
    err = kind(f"{op.name}: failed on inputs [{shapes}]" + (f" with {attrs}" if attrs else "") + f": {exc}")
    return mark(with_user_line(err, 3))


def check_finite(op, result):
    data = result._data
    if data.dtype.kind == "f" and not bool(backend.xp_of(data).isfinite(data).all()):
        from ..errors import format_site

        raise mark(RuntimeError(f"anomaly detected: the forward of {op.name!r} produced NaN or Inf "
                                f"(output shape {tuple(data.shape)}), at {format_site(user_site(3))}"))


from ..autograd import record  # noqa: E402  (autograd imports nothing from here at import time)
from ..tensor import Tensor  # noqa: E402
