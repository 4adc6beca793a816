"""The CPU executor's compiled loops: col2im (ember/graph/loops.py), the fused-kernel block loop and relu fusion.

Each is checked against the NumPy primitive / the interpreter on the same graph, including the layouts and
edge values that select a different code path (fold_batch, strides, asymmetric padding, dilation; 0-d
operands, in-place outputs, strided views; NaN, inf, division by zero).
"""

import re

import numpy as np
import pytest

import ember
from ember.graph import Graph, interpret, kernels, loops
from ember.graph.executor import BLOCK_LOOP_MIN, build
from ember.graph.ir import Node, Value
from ember.ops import conv

pytestmark = pytest.mark.skipif(not kernels.jit_available(), reason="numba not installed")
rng = np.random.default_rng(7)

GEOMETRIES = [  # (input H, W), kernel, stride, padding, dilation
    ((9, 8), (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    ((9, 8), (3, 2), (1, 1), ((1, 2), (0, 1)), (1, 1)),
    ((10, 9), (3, 3), (2, 1), ((1, 1), (2, 0)), (1, 2)),
    ((7, 7), (2, 2), (2, 2), ((0, 1), (1, 0)), (1, 1)),
    ((6, 11), (1, 4), (1, 3), ((0, 0), (2, 2)), (1, 1)),
]


@pytest.mark.parametrize("fold", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("geom", GEOMETRIES, ids=lambda g: f"k{g[1]}s{g[2]}p{g[3]}d{g[4]}")
def test_col2im_loop_equals_the_primitive(geom, dtype, fold):
    size, kernel, stride, padding, dilation = geom
    attrs = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, fold_batch=fold)
    x = rng.standard_normal((3, 4) + size).astype(dtype)
    cols = conv._im2col_fwd(np, x, **attrs) * 1.5
    ref = conv._col2im_fwd(np, cols, size=size, **attrs)
    node = Node("col2im", [Value(cols.shape, dtype)], dict(attrs, size=size), [Value(ref.shape, dtype)])
    got = loops.lowering(node)(cols)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype == "float32" else 1e-13, atol=1e-6)


def test_col2im_loop_applies_only_to_2d_float_windows():
    attrs = dict(kernel=(3,), stride=(1,), padding=((0, 0),), dilation=(1,), size=(8,))
    assert loops.lowering(Node("col2im", [Value((2, 12, 6), "float32")], attrs, [Value((2, 4, 8), "float32")])) is None
    attrs2 = dict(kernel=(2, 2), stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), size=(3, 3))
    ints = Node("col2im", [Value((1, 4, 4), "int32")], attrs2, [Value((1, 1, 3, 3), "int32")])
    assert loops.lowering(ints) is None


def test_compiled_conv_backward_uses_the_loop_and_equals_eager():
    conv2d = ember.nn.Conv2d(3, 5, 3, padding=1)
    x = ember.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)

    def grads(x):
        conv2d(x).relu().sum().backward()
        return x.grad

    eager = grads(x).numpy().copy()
    x.grad = None
    compiled = ember.compile(grads)
    got = compiled(x).numpy()
    np.testing.assert_allclose(got, eager, rtol=1e-5, atol=1e-6)


def _graph(shapes, body_fn):
    g = Graph()
    ins = [g.add_input(s, "float32") for s in shapes]
    g.outputs.append(body_fn(g, ins))
    return g


N = BLOCK_LOOP_MIN + 37  # not a multiple of the block size: the last block is partial


def test_block_loop_with_scalar_operands_matches_the_interpreter():
    # an Adam-like update: p - lr * m / (sqrt(v) / s + eps), lr and s 0-d
    def body(g, ins):
        p, m, v, lr, s = ins
        denom = g.add_node("add", [g.add_node("div", [g.add_node("sqrt", [v]), s]), g.add_constant(np.float32(1e-8))])
        return g.add_node("sub", [p, g.add_node("div", [g.add_node("mul", [lr, m]), denom])])

    g = _graph([(N,), (N,), (N,), (), ()], body)
    exe = build(g, jit=True)
    assert "fused" in str(exe.graph) and "K" in exe.source
    p, m = rng.standard_normal(N).astype(np.float32), rng.standard_normal(N).astype(np.float32)
    v = np.abs(rng.standard_normal(N)).astype(np.float32)
    v[:4] = [0.0, np.inf, np.nan, 1e-30]  # sqrt(0)/s + eps, inf, NaN propagate exactly as in NumPy
    args = [p, m, v, np.asarray(1e-3, np.float32), np.asarray(0.9, np.float32)]
    with np.errstate(all="ignore"):
        ref = interpret(g, args)[0]
    got = exe(*args)[0]
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=0, equal_nan=True)


def test_block_loop_division_by_zero_gives_inf_not_an_error():
    g = _graph([(N,), ()], lambda g, ins: g.add_node("div", [g.add_node("neg", [ins[0]]), ins[1]]))
    exe = build(g, jit=True)
    assert [n.op for n in exe.graph.nodes] == ["fused"]
    a = rng.standard_normal(N).astype(np.float32)
    a[0] = 0.0
    got = exe(a, np.asarray(0.0, np.float32))[0]
    assert np.isnan(got[0]) and np.all(np.isinf(got[1:]))


def test_block_loop_falls_back_to_the_ufunc_for_strided_views():
    # the operand is a transposed view at run time: same result through the ufunc's strided loop
    def body(g, ins):
        t = g.add_node("permute", [ins[0]], {"perm": (1, 0)})
        return g.add_node("mul", [g.add_node("exp", [t]), ins[1]])

    g = _graph([(160, 130), ()], body)
    exe = build(g, jit=True)
    a = rng.standard_normal((160, 130)).astype(np.float32)
    s = np.asarray(2.0, np.float32)
    np.testing.assert_allclose(exe(a, s)[0], interpret(g, [a, s])[0], rtol=1e-6)


def test_in_place_optimizer_step_through_the_block_loop_equals_eager():
    # a compiled Adam step writes parameters and moments in place; large enough for the block loop
    def run(compiled):
        ember.manual_seed(0)
        model = ember.nn.Linear(256, 128)
        opt = ember.optim.Adam(model.parameters(), lr=1e-2)
        x = ember.tensor(np.random.default_rng(3).standard_normal((8, 256)).astype(np.float32))

        def step():
            opt.zero_grad()
            loss = model(x).square().mean()
            loss.backward()
            opt.step()
            return loss

        fn = ember.compile(step) if compiled else step
        for _ in range(3):
            fn()
        return model.weight.detach().numpy().copy()

    np.testing.assert_allclose(run(True), run(False), rtol=1e-5, atol=1e-6)


def test_bias_add_and_relu_fuse_into_one_kernel_and_keep_nan():
    g = _graph([(64, 300), (300,)], lambda g, ins: g.add_node("relu", [g.add_node("add", ins)]))
    exe = build(g, jit=True)
    (node,) = exe.graph.nodes
    assert node.op == "fused" and [n.op for n in node.attrs["body"].nodes] == ["add", "relu"]
    a = rng.standard_normal((64, 300)).astype(np.float32)
    a[0, :3] = [np.nan, -np.inf, np.inf]
    b = rng.standard_normal(300).astype(np.float32)
    got, ref = exe(a, b)[0], np.maximum(a + b, np.float32(0))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, ref)


SPECIAL_ROWS = {  # row -> values written into it: NaN, +inf, all -inf, leading -inf, constant
    0: {3: np.nan}, 1: {5: np.inf}, 2: {j: -np.inf for j in range(64)}, 3: {0: -np.inf, 1: -np.inf},
    4: {j: 2.5 for j in range(64)},
}


def _with_special_rows(shape, dtype):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    rows = x.reshape(-1, shape[-1])
    for r, values in SPECIAL_ROWS.items():
        for j, value in values.items():
            rows[r, j % shape[-1]] = value
    return x


@pytest.mark.parametrize("shape", [(6, 64), (2, 3, 5, 64), (7, 10), (5, 1)])
def test_softmax_loop_equals_the_primitive(shape):
    from ember.ops.nn import _softmax_fwd

    x = _with_special_rows(shape, "float32")
    node = Node("softmax", [Value(shape, "float32")], {"axis": len(shape) - 1}, [Value(shape, "float32")])
    with np.errstate(invalid="ignore"):
        ref = _softmax_fwd(np, x, len(shape) - 1)
    got = loops.lowering(node)(x)
    assert got.dtype == ref.dtype and np.array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
    strided = np.asfortranarray(x)  # a non-contiguous operand is copied first
    np.testing.assert_allclose(loops.lowering(node)(strided), ref, rtol=1e-6, atol=1e-7)


def test_softmax_loop_only_for_float32_last_axis():
    def node(shape, dtype, axis):
        return Node("softmax", [Value(shape, dtype)], {"axis": axis}, [Value(shape, dtype)])

    assert loops.lowering(node((4, 8), "float32", -1)) is not None
    assert loops.lowering(node((4, 8), "float32", 0)) is None
    assert loops.lowering(node((4, 8), "float64", 1)) is None  # NumPy's SIMD exp is faster there


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, ndim", [((6, 64), 1), ((2, 3, 64), 1), ((2, 3, 8, 8), 2), ((5, 1), 1)])
def test_standardize_loop_equals_the_primitive(shape, ndim, dtype):
    from ember.ops.nn import _standardize_fwd

    x = _with_special_rows(shape, dtype) + 3.0
    attrs = {"ndim": ndim, "eps": 1e-5}
    node = Node("standardize", [Value(shape, dtype)], attrs, [Value(shape, dtype)])
    with np.errstate(invalid="ignore"):
        ref = _standardize_fwd(np, x, **attrs)
    got = loops.lowering(node)(x)
    assert got.dtype == ref.dtype and np.array_equal(np.isnan(got), np.isnan(ref))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, ndim", [((6, 64), 1), ((2, 3, 8, 8), 2), ((5, 1), 1)])
def test_standardize_grad_loop_equals_the_primitive(shape, ndim, dtype):
    from ember.ops.nn import _standardize_fwd, _standardize_grad_fwd

    x = _with_special_rows(shape, dtype) + 3.0
    g = rng.standard_normal(shape).astype(dtype)
    attrs = {"ndim": ndim, "eps": 1e-5}
    with np.errstate(invalid="ignore"):
        y = _standardize_fwd(np, x, **attrs)
        ref = _standardize_grad_fwd(np, g, x, y, **attrs)
    node = Node("standardize_grad", [Value(shape, dtype)] * 3, attrs, [Value(shape, dtype)])
    got = loops.lowering(node)(g, x, y)
    assert got.dtype == ref.dtype and np.array_equal(np.isnan(got), np.isnan(ref))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


def test_compiled_attention_block_uses_the_loops_and_equals_eager():
    ember.manual_seed(0)
    layer = ember.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0)
    x = ember.randn(5, 3, 16)

    def step(x):
        layer.zero_grad()
        out = layer(x)
        out.square().mean().backward()
        return out, layer.self_attn.in_proj_weight.grad, layer.norm1.weight.grad

    eager = [t.detach().numpy().copy() for t in step(x)]
    compiled = ember.compile(step)
    got = [t.detach().numpy() for t in compiled(x)]
    for g, e in zip(got, eager):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    exe = compiled._entries[-1].exe
    loop_ops = {exe.graph.nodes[int(n[1:]) - len(exe.graph.inputs) - len(exe.graph.constants)].op
                for n in re.findall(r"= (J\d+)\(", exe.source)}
    assert {"softmax", "standardize", "standardize_grad"} <= loop_ops
