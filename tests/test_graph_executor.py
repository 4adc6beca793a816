"""Executors and kernels: every primitive compiled equals eager; buffers, donation, generated code, viz."""

import textwrap

import numpy as np
import pytest

import ember
from ember.graph import Graph, interpret, kernels
from ember.graph.compile import compile
from ember.graph.executor import build
from ember.graph.passes import plan_memory, plan_summary
from ember.ops import apply

JIT = [False] + ([True] if kernels.jit_available() else [])
rng = np.random.default_rng(1)
POS = {"log", "sqrt"}
UNARY = "neg exp log sin cos tanh sigmoid sqrt erf abs sign floor ceil round trunc".split()
BINARY = "add sub mul div pow maximum minimum floordiv remainder eq ne lt le gt ge".split()


def _arr(shape, positive=False):
    a = rng.standard_normal(shape).astype(np.float32)
    return np.abs(a) + 0.5 if positive else a


def _check(fn, *arrays, jit):
    tensors = [ember.tensor(a) for a in arrays]
    expected = fn(*tensors).numpy()
    cf = compile(fn, jit=jit)
    for _ in range(2):
        got = cf(*tensors).numpy()
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("jit", JIT)
@pytest.mark.parametrize("op", UNARY)
def test_unary_rows_compiled_equal_eager(op, jit):
    # a chain (so fused kernels run the op) and the op alone
    _check(lambda x: apply(op, x * 1.5), _arr((5, 7), op in POS), jit=jit)


@pytest.mark.parametrize("jit", JIT)
@pytest.mark.parametrize("op", BINARY)
def test_binary_rows_compiled_equal_eager(op, jit):
    a, b = _arr((4, 6), op == "pow"), _arr((6,), True)
    _check(lambda x, y: apply(op, x + 0.25, y * 2), a, b, jit=jit)


@pytest.mark.parametrize("jit", JIT)
@pytest.mark.parametrize("case", ["where", "cast", "logical", "reductions", "shape", "index", "cumsum"])
def test_other_rows_compiled_equal_eager(case, jit):
    fns = {
        "where": lambda x, y: apply("where", apply("gt", x, y), x.exp(), y * 2),
        "cast": lambda x, y: apply("cast", apply("cast", x * 3, dtype="int32"), dtype="float32") + y,
        "logical": lambda x, y: apply(
            "cast", apply("logical_xor", x > 0, apply("logical_not", y > 0)), dtype="float32"
        ),
        "reductions": lambda x, y: (
            apply("sum", x * y, axis=(0,), keepdims=False)
            + apply("amax", x, axis=(0,), keepdims=False)
            - apply("amin", y, axis=(0,), keepdims=False)
            + apply("prod", x * 0.1 + 1, axis=(0,), keepdims=False)
        ),
        "shape": lambda x, y: apply(
            "cat",
            apply("reshape", x.permute(1, 0), shape=(6, 4)),
            apply("pad", y.permute(1, 0), pads=((1, 0), (0, 2)), value=0.5)[1:, :4],
            axis=0,
        ),
        "index": lambda x, y: x[1:3] * y[::2] + apply("gather", x, ember.tensor([[0], [1]]), axis=1),
        "cumsum": lambda x, y: apply("cumsum", x * y, axis=1),
    }
    _check(fns[case], _arr((4, 6)), _arr((4, 6)), jit=jit)


def test_build_writes_into_planned_buffers_and_matches_the_interpreter():
    g = Graph()
    x = g.add_input((3, 4), "float32")
    w = g.add_input((4, 4), "float32")
    h = g.add_node("tanh", [g.add_node("matmul", [x, w])])
    g.outputs.append(g.add_node("sum", [g.add_node("mul", [h, h])], {"axis": (1,), "keepdims": False}))
    exe = build(g, jit=False)
    assert exe.source == textwrap.dedent("""\
        def run(i0, i1):
            v2 = M2(i0, i1, out=O2)
            v3 = U3(v2, out=O3)
            v4 = U4(v3, v3, out=O4)
            v5 = ASARRAY(F5(XP, v4))
            return [v5]""")
    a, b = _arr((3, 4)), _arr((4, 4))
    np.testing.assert_allclose(exe(a, b)[0], interpret(g, [a, b])[0], rtol=1e-6)
    assert plan_summary(exe.graph).splitlines()[2] == "%4 mul -> buf0 in place"


def test_donated_outputs_are_computed_into_the_input_array():
    g = Graph()
    p = g.add_input((4,), "float32")
    grad = g.add_input((4,), "float32")
    lr = g.add_constant(np.float32(0.1))
    g.outputs = [g.add_node("sub", [p, g.add_node("mul", [grad, lr])])]
    g.meta["donate"] = {0: 0}
    plan_memory(g)
    assert plan_summary(g).splitlines()[-1] == "%4 sub -> input %0 (donated)"
    exe = build(g, jit=False)
    pa, ga = np.ones(4, np.float32), np.full(4, 2, np.float32)
    (out,) = exe(pa, ga)
    assert out is pa and np.allclose(pa, 0.8)


def test_compiled_step_updates_parameters_in_place_without_copies():
    w = ember.ones(3, requires_grad=True)
    data_before = w._data

    def step(x):
        w.grad = None
        apply("sum", x * w, axis=None, keepdims=False).backward()
        with ember.no_grad():
            w.sub_(w.grad * 0.5)

    cf = compile(step)
    for _ in range(3):
        cf(ember.ones(3))
    assert w._data is data_before and w.tolist() == [-0.5, -0.5, -0.5]


def test_accumulated_gradients_compile_like_eager():
    def run(compiled):
        w = ember.ones(2, requires_grad=True)
        w.grad = ember.zeros(2)

        def accumulate(x):
            apply("sum", x * w * w, axis=None, keepdims=False).backward()

        f = compile(accumulate) if compiled else accumulate
        for _ in range(3):
            f(ember.tensor([1.0, 2.0]))
        return w.grad.tolist()

    assert run(True) == run(False) == [6.0, 12.0]


@pytest.mark.skipif(not kernels.jit_available(), reason="numba not installed")
def test_numba_kernel_source_for_a_fused_body():
    g = Graph()
    x = g.add_input((8,), "float32")
    g.outputs.append(g.add_node("sigmoid", [g.add_node("mul", [x, g.add_constant(np.float32(2))])]))
    exe = build(g, jit=True)
    (fused,) = exe.graph.nodes
    k = kernels.get_kernel(fused.attrs["body"])
    assert k.signature == "float32(float32)"
    assert "t0 = a0 * c0" in k.source and "_sigmoid(t0)" in k.source
    a = _arr((8,))
    np.testing.assert_allclose(exe(a)[0], 1 / (1 + np.exp(-2 * a)), rtol=1e-6)


def _scaled_sigmoid(shape, scale, dtype="float32"):
    g = Graph()
    x = g.add_input(shape, dtype)
    g.outputs.append(g.add_node("sigmoid", [g.add_node("mul", [x, g.add_constant(np.dtype(dtype).type(scale))])]))
    return g


@pytest.mark.skipif(not kernels.jit_available(), reason="numba not installed")
def test_fused_kernels_are_shared_across_shapes_not_across_constants_or_dtypes():
    # one kernel per distinct body, whatever its shapes (a model's layers share their swish / optimizer kernels)
    def kernel(g):
        (fused,) = build(g, jit=True).graph.nodes
        return kernels.get_kernel(fused.attrs["body"])

    base = kernel(_scaled_sigmoid((8,), 2.0))
    assert kernel(_scaled_sigmoid((3, 5), 2.0)) is base
    assert kernel(_scaled_sigmoid((8,), 3.0)) is not base
    assert kernel(_scaled_sigmoid((8,), 2.0, "float64")) is not base
    a = _arr((3, 5))
    np.testing.assert_allclose(build(_scaled_sigmoid((3, 5), 3.0), jit=True)(a)[0], 1 / (1 + np.exp(-3 * a)),
                               rtol=1e-6)


@pytest.mark.skipif(not kernels.jit_available(), reason="numba not installed")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_erf_kernel_accuracy(dtype):
    import math

    g = Graph()
    x = g.add_input((200011,), dtype)
    g.outputs.append(g.add_node("add", [g.add_node("erf", [x]), g.add_constant(np.asarray(1, dtype))]))
    exe = build(g, jit=True)
    a = np.linspace(-7, 7, 200001).astype(dtype)
    a = np.concatenate([a, np.asarray([0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, np.inf, -np.inf, 40, -40], dtype)])
    ref = np.asarray([math.erf(float(v)) for v in a])
    got = exe(a)[0].astype(np.float64) - 1
    # float32: the branch-free SIMD form, within 4e-7 (a few float32 ulps of 1); float64: libm's erf
    np.testing.assert_allclose(got, ref, rtol=0, atol=4e-7 if dtype == "float32" else 1e-15)
    nan = exe(np.full(200011, np.nan, dtype))[0]
    assert np.isnan(nan).all()


@pytest.mark.skipif(not kernels.jit_available(), reason="numba not installed")
def test_fused_exp_kernel_simd_form_accuracy():
    # same-shape operands take the branch-free float32 exp; a broadcast operand the libm one: both ~1 ulp
    n = 200016
    a = np.linspace(-110, 95, n).astype(np.float32)
    a[:8] = [np.nan, np.inf, -np.inf, 0, -0.0, 88.7, 88.8, -103]
    for shape_b in [(n,), (1,)]:
        g = Graph()
        x, y = g.add_input((n,), "float32"), g.add_input(shape_b, "float32")
        g.outputs.append(g.add_node("exp", [g.add_node("sub", [x, y])]))
        exe = build(g, jit=True)
        b = np.zeros(shape_b, np.float32)
        with np.errstate(all="ignore"):
            got = exe(a, b)[0]
            ref = np.exp(a.astype(np.float64))
        assert np.isnan(got[0]) and got[1] == np.inf and got[2] == 0 and got[3] == got[4] == 1
        fin = (ref > 1.2e-38) & (ref < 3.4e38)
        np.testing.assert_allclose(got[fin], ref[fin], rtol=2.5e-7)
        assert got[6] == np.inf and got[7] == np.exp(np.float32(-103))


def test_make_dot_draws_the_autograd_graph():
    from ember.viz import make_dot

    w = ember.ones(2, 2, requires_grad=True)
    dot = make_dot(apply("sum", (w @ w).tanh(), axis=None, keepdims=False), params={"w": w}).source
    assert dot.count("->") == 5 and "MatmulBackward" in dot and "TanhBackward" in dot
    assert 'label="w\\n(2, 2)"' in dot


@pytest.mark.gpu
@pytest.mark.gpu
@pytest.mark.skipif(not ember.backend.cuda_available(), reason="needs a CUDA GPU and CuPy")
def test_cuda_executor_with_fused_kernels_equals_eager():
    a = ember.tensor(_arr((64, 32))).to("cuda")
    b = ember.tensor(_arr((32,))).to("cuda")

    def f(x, y):
        return apply("sum", ((x * y + 1).tanh() - y).sigmoid(), axis=(1,), keepdims=False)

    cf = compile(f)
    expected = f(a, b).cpu().numpy()
    for _ in range(2):
        np.testing.assert_allclose(cf(a, b).cpu().numpy(), expected, rtol=1e-6, atol=1e-6)
    assert any(n.op == "fused" for n in cf._entries[0].exe.graph.nodes)
