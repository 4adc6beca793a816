"""Shared by the ``keras.ops``-against-Keras tests: argument makers, the row type, and the comparison of one
row's values (and gradient) between real Keras 3 on its torch backend and ``ember.keras.ops``."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)
torch = pytest.importorskip("torch")

import ember  # noqa: E402
from ember import keras  # noqa: E402


class Arg:
    """A deterministic array argument (made once per row from the row's seed)."""

    def __init__(self, shape, kind="float", lo=-2.0, hi=2.0, dtype=None):
        self.shape, self.kind, self.lo, self.hi, self.dtype = tuple(shape), kind, lo, hi, dtype

    def make(self, rng):
        if self.kind == "int":
            return rng.integers(int(self.lo), int(self.hi), size=self.shape).astype(self.dtype or "int32")
        if self.kind == "bool":
            return rng.random(self.shape) < 0.5
        return rng.uniform(self.lo, self.hi, size=self.shape).astype(self.dtype or "float32")


def Fl(*shape, lo=-2.0, hi=2.0, dtype=None):
    return Arg(shape, "float", lo, hi, dtype)


def Pos(*shape):
    return Arg(shape, "float", 0.2, 3.0)


def In(*shape, lo=-5, hi=6, dtype="int32"):
    return Arg(shape, "int", lo, hi, dtype)


def Bo(*shape):
    return Arg(shape, "bool")


@dataclass
class Row:
    op: str  # a dotted path under keras.ops ("arctan2", "nn.conv", "image.resize")
    args: list
    kwargs: dict = field(default_factory=dict)
    grad: bool = False  # compare d(sum(w * out)) / d(first float argument) too
    atol: float = 1e-5
    id: str = ""
    ref: object = None  # a NumPy reference (where Keras's torch backend lacks the case) instead of Keras

    def name(self):
        return self.id or self.op + ("-" + "-".join(f"{k}={_short(v)}" for k, v in sorted(self.kwargs.items()))
                                     if self.kwargs else "")


def _short(value):
    if isinstance(value, Arg):
        return f"{value.kind}{value.shape}"
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    return value


def _lookup(ops, path):
    obj = ops
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _leaves(out):
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in _leaves(item)]
    return [out]


def _materialize(args, rng):
    return [a.make(rng) if isinstance(a, Arg) else _materialize(a, rng) if isinstance(a, list) else a for a in args]


def _to_real(value, grad_index, i):
    if isinstance(value, list):
        return [_to_real(v, -1, None) for v in value]
    if isinstance(value, np.ndarray):
        tt = torch.tensor(value)
        if i == grad_index:
            tt.requires_grad_(True)
        return tt
    return value


def _to_ours(value, grad_index, i):
    if isinstance(value, list):
        return [_to_ours(v, -1, None) for v in value]
    if isinstance(value, np.ndarray):
        return ember.tensor(value, requires_grad=i == grad_index)
    return value


def run_row(row: Row, seed: int = 0):
    """Both libraries' outputs (and gradients) for ``row``; asserts they agree."""
    rng = np.random.default_rng(seed)
    values = _materialize(row.args, rng)
    kwargs = {k: v.make(rng) if isinstance(v, Arg) else v for k, v in row.kwargs.items()}
    grad_index = next((i for i, v in enumerate(values) if isinstance(v, np.ndarray) and v.dtype.kind == "f"), None) \
        if row.grad else None
    theirs_in = [_to_real(v, grad_index, i) for i, v in enumerate(values)]
    ours_in = [_to_ours(v, grad_index, i) for i, v in enumerate(values)]
    if row.ref is not None:
        grad_index = None
        expected = row.ref(*values, **kwargs)
    else:
        expected = _lookup(real.ops, row.op)(*theirs_in, **kwargs)
    got = _lookup(keras.ops, row.op)(*ours_in, **kwargs)
    exp_leaves, got_leaves = _leaves(expected), _leaves(got)
    assert len(exp_leaves) == len(got_leaves), (row.name(), len(exp_leaves), len(got_leaves))
    for e, g in zip(exp_leaves, got_leaves):
        e_np = e.detach().cpu().numpy() if hasattr(e, "detach") else np.asarray(e)
        g_np = keras.ops.convert_to_numpy(g) if isinstance(g, ember.Tensor) else np.asarray(g)
        assert e_np.shape == g_np.shape, (row.name(), e_np.shape, g_np.shape)
        assert (e_np.dtype.kind in "fc") == (g_np.dtype.kind in "fc"), (row.name(), e_np.dtype, g_np.dtype)
        np.testing.assert_allclose(g_np.astype(np.float64), e_np.astype(np.float64), atol=row.atol, rtol=1e-4,
                                   equal_nan=True, err_msg=row.name())
    if grad_index is not None:
        _compare_grad(row, exp_leaves, got_leaves, theirs_in[grad_index], ours_in[grad_index], rng)


def _compare_grad(row, exp_leaves, got_leaves, x_real, x_ours, rng):
    """The gradient of ``sum(w * out)`` over the float outputs, ``w`` fixed random weights."""
    total_r, total_o = 0, 0
    for e, g in zip(exp_leaves, got_leaves):
        if not (hasattr(e, "dtype") and e.dtype.is_floating_point and e.requires_grad):
            continue
        w = rng.uniform(0.5, 1.5, size=tuple(e.shape)).astype(np.float32)
        total_r = total_r + (e * torch.tensor(w)).sum()
        total_o = total_o + (g * ember.tensor(w)).sum()
    assert not isinstance(total_r, int), f"{row.name()}: Keras's output carries no gradient"
    total_r.backward()
    total_o.backward()
    assert x_ours.grad is not None, f"{row.name()}: no gradient reached the input"
    np.testing.assert_allclose(x_ours.grad.numpy(), x_real.grad.numpy(), atol=max(row.atol, 1e-4), rtol=1e-3,
                               err_msg=row.name() + " (gradient)")


def ids(rows):
    return [r.name() for r in rows]
