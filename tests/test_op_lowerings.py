"""An op's facts live on its definition: coverage per target (a primitive neither handled nor marked
unsupported with a reason fails here), the graph layer's tables derived from the registry, the lowering API."""

import pytest

import ember  # noqa: F401  (registers every op, layer ops included)
from ember import nn  # noqa: F401
from ember.graph import kernels, opinfo
from ember.ops import REGISTRY, Unsupported, register_lowering, unsupported

TARGETS = ["onnx", "tflite"]  # the export targets


@pytest.mark.parametrize("target", TARGETS)
def test_every_op_is_lowered_or_says_why_not(target):
    missing = sorted(name for name, op in REGISTRY.items()
                     if op.lowering(target) is None and not op.unsupported.get(target, "").strip())
    assert not missing, (f"ops with neither a {target!r} lowering nor a reason: {missing}; add "
                         f"@register_lowering(name, {target!r}) beside the op or unsupported(name, {target!r}, why)")


@pytest.mark.parametrize("target", ["numba", "cuda"])
def test_every_elementwise_op_has_a_kernel_form_or_says_why_not(target):
    ew = [name for name, op in REGISTRY.items() if op.kind == "elementwise"]
    missing = sorted(n for n in ew if REGISTRY[n].lowering(target) is None and not REGISTRY[n].unsupported.get(target))
    assert not missing, missing


def test_layer_ops_are_not_primitives_but_have_rules():
    layers = {name for name, op in REGISTRY.items() if op.kind == "layer"}
    assert {"conv", "conv_transpose", "max_pool", "avg_pool", "adaptive_avg_pool", "batch_norm", "layer_norm",
            "group_norm", "embedding", "lstm", "gru", "rnn", "scaled_dot_product_attention", "gelu",
            "log_softmax"} <= layers
    assert all(REGISTRY[n].forward is None and REGISTRY[n].infer is not None for n in layers)
    assert opinfo.LAYERS == layers


def test_graph_tables_are_derived_from_the_registry():
    assert opinfo.UFUNC == {n: op.ufunc for n, op in REGISTRY.items() if op.ufunc}
    assert opinfo.UFUNC["sub"] == "subtract" and "sigmoid" not in opinfo.UFUNC
    assert opinfo.REDUCE_FN == {"sum": "sum", "amax": "max", "amin": "min", "prod": "prod"}
    # getitem: a view for the planner; the complex parts and views never enter a graph (kind "complex")
    assert opinfo.VIEWS == {"reshape", "permute", "expand", "getitem", "real", "imag", "view_as_real",
                            "view_as_complex"}
    assert not REGISTRY["getitem"].view  # ... but eager results do not share its version counter
    assert opinfo.RANDOM == {"uniform", "normal", "randint", "randperm", "keyed_uniform", "keyed_normal", "gamma",
                             "beta", "binomial", "poisson", "keyed_gamma", "keyed_beta", "keyed_binomial",
                             "keyed_poisson"}
    assert not opinfo.is_pure("normal")
    assert "relu" in opinfo.ELEMENTWISE and "copy" not in opinfo.ELEMENTWISE
    assert kernels.kernel_form("add") == "{0} + {1}" and kernels.kernel_form("floordiv", "cuda") is None
    for gone in ("_PY", "_CU", "_RULES", "UNARY", "BINARY", "PRIMITIVES"):  # the old name-keyed tables
        assert not hasattr(kernels, gone) and not hasattr(opinfo, gone), gone


def test_register_lowering_and_unsupported_api():
    relu = REGISTRY["relu"]
    try:
        @register_lowering("relu", "test_format")
        def lower(ctx, node):
            ctx.append(("RELU", node))

        assert relu.lowering("test_format") is lower
        out = []
        relu.lowering("test_format")(out, "node")
        assert out == [("RELU", "node")]
        unsupported("relu", "test_format", "not in this format")
        assert relu.lowering("test_format") is None and relu.unsupported["test_format"] == "not in this format"
    finally:
        relu.lowerings.pop("test_format", None)
        relu.unsupported.pop("test_format", None)
    err = Unsupported("no such option", "use another")
    assert (err.reason, err.suggest) == ("no such option", "use another")


def test_register_stays_backward_compatible():
    from ember.ops import register

    name = "test_only_square"
    try:
        op = register(name, lambda xp, x: x * x, vjp=lambda g, out, x: (g * 2 * x,), infer=lambda x: x, saves=(0,),
                      kind="elementwise", onnx="legacy")
        assert op.lowering("onnx") == "legacy" and op.onnx == "legacy" and op.pure and not op.aliases
    finally:
        REGISTRY.pop(name, None)
