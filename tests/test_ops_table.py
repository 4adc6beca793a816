"""The op table: every primitive and every public composite, one row each (rows live in tests/_optable/).

Per row: forward against a NumPy reference; forward and backward against PyTorch (when installed) on the
same inputs; random-direction central-difference gradient checks in float64, first and second order, for the
differentiable rows; and each primitive's shape/dtype rule (``infer``) against what its forward produced.
Coverage is asserted too: adding a primitive or a public composite without a row fails this file.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from _optable import (
    rows_conv,
    rows_fft,
    rows_index,
    rows_linalg,
    rows_linalg_more,
    rows_math,
    rows_more,
    rows_nn,
    rows_reduce,
    rows_scatter,
    rows_shape,
)
from _optable import rows_special as special_rows
from _optable.spec import make_case

import ember
from ember import functional
from ember._state import STATE
from ember.ops import REGISTRY, Aval
from ember.testing import assert_close, gradcheck, gradgradcheck

try:
    import torch
except ImportError:  # the table still runs its NumPy and numerical checks
    torch = None

ROWS = rows_math.ROWS + rows_reduce.ROWS + rows_shape.ROWS + rows_index.ROWS + rows_nn.ROWS + rows_linalg.ROWS
ROWS += rows_linalg_more.ROWS + rows_conv.ROWS + rows_more.ROWS + rows_scatter.ROWS + special_rows.ROWS + rows_fft.ROWS
BY_NAME = {r.name: r for r in ROWS}
ids = [r.name for r in ROWS]
GRAD_ROWS = [r for r in ROWS if r.grad]
GRAD2_ROWS = [r for r in ROWS if r.grad2]

# PUBLIC names that are helpers rather than ops (each must still exist, so this list cannot rot)
HELPERS = {"values_indices"}

# Tensor methods and functions named by issue 2 (operators are covered by their dunder names)
ISSUE_NAMES = set(
    """
__add__ __radd__ __iadd__ __sub__ __rsub__ __isub__ __mul__ __rmul__ __imul__ __truediv__
__rtruediv__ __itruediv__ __pow__ __rpow__ __floordiv__ __rfloordiv__ __mod__ __rmod__ __matmul__
__neg__ exp log log1p expm1 sqrt rsqrt abs neg sign sin cos tan tanh sigmoid relu erf floor ceil
round trunc reciprocal clamp eq ne lt le gt ge __eq__ __ne__ __lt__ __le__ __gt__ __ge__ logical_and
logical_or logical_xor logical_not where maximum minimum sum mean prod max min amax amin argmax
argmin var std norm logsumexp cumsum all any softmax log_softmax matmul mm bmm einsum gather scatter
scatter_add index_select masked_fill take_along_dim topk sort argsort tril triu view reshape flatten
unflatten squeeze unsqueeze permute transpose t T mT expand expand_as repeat tile flip roll narrow
cat stack split chunk unbind getitem setitem
""".split()
)


def test_row_names_are_unique():
    assert len(BY_NAME) == len(ROWS), sorted(n for n in ids if ids.count(n) > 1)


def test_every_primitive_has_a_row():
    covered = set().union(*(r.prims for r in ROWS))
    # layer ops: their functions' rows; collectives (all_reduce) need real ranks: tests/test_distributed.py
    primitives = {name for name, op in REGISTRY.items() if op.kind not in ("layer", "collective")}
    missing = sorted(primitives - covered)
    assert not missing, f"primitives without an op-table row: {missing} (add a row in tests/_optable/)"
    unknown = sorted(covered - set(REGISTRY))
    assert not unknown, f"rows name primitives that are not registered: {unknown}"


def test_every_public_composite_has_a_row():
    assert HELPERS <= set(functional.PUBLIC), sorted(HELPERS - set(functional.PUBLIC))
    covered = set().union(*(r.covers for r in ROWS))
    missing = sorted(set(functional.PUBLIC) - covered - HELPERS)
    assert not missing, f"public composites without an op-table row: {missing}"


def test_issue_api_has_rows():
    covered = set().union(*(r.covers for r in ROWS))
    assert not sorted(ISSUE_NAMES - covered), sorted(ISSUE_NAMES - covered)


# -- helpers ---------------------------------------------------------------------------------------------
def _seed(row, k):
    return zlib.crc32(f"{row.name}/{k}".encode())


def _inputs(lib, values, flags, float_dtype, requires_grad):
    out = []
    for v, f in zip(values, flags):
        if not isinstance(v, np.ndarray):
            out.append(v)
        elif v.dtype.kind == "f":
            out.append(lib.tensor(v, dtype=getattr(lib, float_dtype), requires_grad=requires_grad and f))
        else:
            out.append(lib.tensor(v))
    return out


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [y for o in out for y in _flat(o)]
    return [out]


def _np(x):
    if hasattr(x, "detach"):
        return (
            x.detach().cpu().numpy()
            if hasattr(x, "cpu") and not isinstance(x, ember.Tensor)
            else x.detach().numpy()
        )
    return np.asarray(x)


def _is_float_tensor(x):
    return hasattr(x, "dtype") and hasattr(x, "requires_grad") and x.dtype.is_floating_point


def _round32(values):
    return [
        v.astype(np.float32).astype(np.float64) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
        for v in values
    ]


def _cases(row):
    for k, case in enumerate(row.cases):
        values, flags = make_case(case, _seed(row, k))
        yield k, values, flags


# -- forward against NumPy ----------------------------------------------------------------------------
@pytest.mark.parametrize("row", ROWS, ids=ids)
def test_forward_matches_numpy(row):
    for k, values, flags in _cases(row):
        outs = _flat(row.fn(ember, *_inputs(ember, values, flags, "float32", False)))
        if row.check is not None:
            row.check(*outs)
            continue
        refs = _flat(row.ref(*_round32(values)))
        assert len(outs) == len(refs), f"case {k}: {len(outs)} outputs but the reference has {len(refs)}"
        for j, (o, r) in enumerate(zip(outs, refs)):
            a, e = _np(o), np.asarray(r)
            if a.dtype.kind == "f" and e.dtype.kind != "f":
                e = e.astype(np.float64)
            assert_close(a, e, row.rtol, row.atol, msg=f"{row.name} case {k} output {j}")


# -- forward and backward against PyTorch ---------------------------------------------------------------
def _torch_dtype_name(t):
    return str(t.dtype).replace("torch.", "")


@pytest.mark.skipif(torch is None, reason="torch is not installed (pip install 'ember[test]')")
@pytest.mark.parametrize("row", [r for r in ROWS if r.torch], ids=[r.name for r in ROWS if r.torch])
def test_matches_torch(row):
    tfn = row.torch_fn or row.fn
    for k, values, flags in _cases(row):
        e_outs = _flat(row.fn(ember, *_inputs(ember, values, flags, "float32", False)))
        t_outs = _flat(tfn(torch, *_inputs(torch, values, flags, "float32", False)))
        assert len(e_outs) == len(t_outs)
        for j, (e, t) in enumerate(zip(e_outs, t_outs)):
            where = f"{row.name} case {k} output {j}"
            if isinstance(t, torch.Tensor):
                assert isinstance(e, ember.Tensor), where
                assert e.dtype.name == _torch_dtype_name(t), (
                    f"{where}: dtype {e.dtype.name} vs torch's {t.dtype}"
                )
                assert tuple(e.shape) == tuple(t.shape), (
                    f"{where}: shape {tuple(e.shape)} vs {tuple(t.shape)}"
                )
                if row.check is None:
                    assert_close(e, t, row.rtol, row.atol, msg=where)
            else:
                assert e == t, where
        if not (row.grad and row.torch_grad) or not any(flags):
            continue
        e_in = _inputs(ember, values, flags, "float64", True)
        t_in = _inputs(torch, values, flags, "float64", True)
        e_outs, t_outs = _flat(row.fn(ember, *e_in)), _flat(tfn(torch, *t_in))
        rng = np.random.default_rng(_seed(row, 1000 + k))
        e_pairs, t_pairs = [], []
        for j, (e, t) in enumerate(zip(e_outs, t_outs)):
            if isinstance(t, torch.Tensor) and t.dtype.is_floating_point:
                assert e.requires_grad == t.requires_grad, (
                    f"{row.name} case {k} output {j}: requires_grad {e.requires_grad} vs torch's "
                    f"{t.requires_grad}"
                )
                if t.requires_grad:
                    v = rng.standard_normal(tuple(t.shape))
                    e_pairs.append((e, ember.tensor(v, dtype=e.dtype)))
                    t_pairs.append((t, torch.tensor(v, dtype=t.dtype)))
        if not t_pairs:
            continue
        e_wrt = [x for x, f in zip(e_in, flags) if f]
        t_wrt = [x for x, f in zip(t_in, flags) if f]
        eg = ember.autograd.grad([o for o, _ in e_pairs], e_wrt, [v for _, v in e_pairs], allow_unused=True)
        tg = torch.autograd.grad([o for o, _ in t_pairs], t_wrt, [v for _, v in t_pairs], allow_unused=True)
        for i, (a, b, x) in enumerate(zip(eg, tg, e_wrt)):
            a = np.zeros(tuple(x.shape)) if a is None else _np(a)
            b = np.zeros(tuple(x.shape)) if b is None else _np(b)
            assert_close(a, b, 1e-6, 1e-8, msg=f"{row.name} case {k}: gradient of input {i} vs torch")


# -- numerical gradient checks ---------------------------------------------------------------------------
def _checked(row, check):
    ran = 0
    for k, values, flags in _cases(row):
        if not any(flags):
            continue
        inputs = _inputs(ember, values, flags, "float64", True)
        check(lambda *xs: tuple(_flat(row.fn(ember, *xs))), tuple(inputs), seed=_seed(row, k))
        ran += 1
    assert ran, f"{row.name} is marked differentiable but none of its cases has a float input"


@pytest.mark.parametrize("row", GRAD_ROWS, ids=[r.name for r in GRAD_ROWS])
def test_gradcheck(row):
    _checked(row, lambda fn, inputs, seed: gradcheck(fn, inputs, seed=seed))


@pytest.mark.parametrize("row", GRAD2_ROWS, ids=[r.name for r in GRAD2_ROWS])
def test_gradgradcheck(row):
    _checked(row, lambda fn, inputs, seed: gradgradcheck(fn, inputs, seed=seed))


# -- shape rules -----------------------------------------------------------------------------------------
class _Recorder:
    """A tracer that records every primitive call (ops.apply reports to STATE.tracer)."""

    def __init__(self):
        self.calls = []

    def record(self, op, inputs, attrs, out):
        self.calls.append(
            (
                op,
                [(tuple(t._data.shape), t.dtype, str(t.device)) for t in inputs],
                dict(attrs),
                tuple(out._data.shape),
                out.dtype,
            )
        )

    def on_data_access(self, tensor, what):
        pass

    def record_inplace(self, target, new):
        pass

    def on_created(self, arr):
        pass

    def on_host_draw(self):
        pass


def _shape_matches(inferred, actual):
    return len(inferred) == len(actual) and all(i is None or i == a for i, a in zip(inferred, actual))


@pytest.mark.parametrize("row", ROWS, ids=ids)
def test_infer_agrees_with_forward(row):
    rec = _Recorder()
    prev = STATE.tracer
    STATE.tracer = rec
    try:
        for _k, values, flags in _cases(row):
            inputs = _inputs(ember, values, flags, "float32", row.grad)
            outs = [o for o in _flat(row.fn(ember, *inputs)) if _is_float_tensor(o) and o.requires_grad]
            wrt = [x for x, f in zip(inputs, flags) if f]
            if row.grad and outs and wrt:  # the vjps' primitives are checked too
                ember.autograd.grad(outs, wrt, [ember.ones_like(o) for o in outs], allow_unused=True)
    finally:
        STATE.tracer = prev
    seen = {op.name for op, *_ in rec.calls}
    missing = set(row.prims) - seen
    assert not missing, f"{row.name}: declared primitives {sorted(missing)} never ran"
    for op, ins, attrs, shape, dtype in rec.calls:
        if op.name not in REGISTRY:  # custom Function nodes are not primitives
            continue
        assert op.infer is not None, f"primitive {op.name} has no shape rule"
        aval = op.infer(*[Aval(s, d, dev) for s, d, dev in ins], **attrs)
        where = f"{op.name}{tuple(s for s, _, _ in ins)} {attrs}"
        assert aval is not None, f"{where}: infer returned None"
        assert _shape_matches(tuple(aval.shape), shape), (
            f"{where}: infer says {aval.shape}, forward made {shape}"
        )
        assert aval.dtype is dtype, f"{where}: infer says {aval.dtype}, forward made {dtype}"
