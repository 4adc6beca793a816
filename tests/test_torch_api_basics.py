"""PyTorch's everyday API around tensors, against PyTorch: dtype queries (finfo, iinfo, promote_types,
result_type, can_cast), process-wide switches (determinism, matmul precision, interop threads, denormals, print
options), memory formats and strides, creation keywords (out=, layout=, pin_memory=, memory_format=),
empty_strided and legacy type names. One row per call; each runs the same lambda on both libraries."""
from __future__ import annotations

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
FLOATS = ["float16", "bfloat16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]


def _dt(lib, name):
    return getattr(lib, name)


@pytest.mark.parametrize("name", FLOATS + [None])
def test_finfo_matches_torch(name):
    got = ember.finfo(_dt(ember, name)) if name else ember.finfo()
    want = torch.finfo(_dt(torch, name)) if name else torch.finfo()
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(got, attr) == getattr(want, attr), (name, attr)


@pytest.mark.parametrize("name", INTS)
def test_iinfo_matches_torch(name):
    got, want = ember.iinfo(_dt(ember, name)), torch.iinfo(_dt(torch, name))
    assert (got.bits, got.min, got.max, got.dtype) == (want.bits, want.min, want.max, want.dtype)


@pytest.mark.parametrize("fn,name,words", [("finfo", "int32", "not a floating"), ("iinfo", "float32", "finfo"),
                                           ("iinfo", "bool", "not an integer")])
def test_info_of_the_wrong_kind_is_refused(fn, name, words):
    with pytest.raises(TypeError, match=words):
        getattr(ember, fn)(_dt(ember, name))


@pytest.mark.parametrize("a", DTYPES)
def test_promote_types_and_can_cast_match_torch(a):
    for b in DTYPES:
        assert ember.promote_types(_dt(ember, a), _dt(ember, b)).name == \
            str(torch.promote_types(_dt(torch, a), _dt(torch, b))).split(".")[1], (a, b)
        assert ember.can_cast(_dt(ember, a), _dt(ember, b)) == torch.can_cast(_dt(torch, a), _dt(torch, b)), (a, b)


RESULT_TYPES = {
    "int_tensor_float": lambda L: (L.tensor([1, 2]), 1.5),
    "float16_tensor_0d_float64": lambda L: (L.ones(2, dtype=L.float16), L.tensor(1.0, dtype=L.float64)),
    "uint8_int8": lambda L: (L.ones(2, dtype=L.uint8), L.ones(2, dtype=L.int8)),
    "bool_int": lambda L: (L.tensor([True]), 3),
    "0d_int_0d_float": lambda L: (L.tensor(1), L.tensor(1.0)),
}


@pytest.mark.parametrize("name", RESULT_TYPES)
def test_result_type_matches_torch(name):
    got = ember.result_type(*RESULT_TYPES[name](ember))
    assert got.name == str(torch.result_type(*RESULT_TYPES[name](torch))).split(".")[1]


SWITCHES = {  # each: set, read back (both libraries), then restore
    "deterministic": (lambda L: L.use_deterministic_algorithms(True),
                      lambda L: L.are_deterministic_algorithms_enabled(),
                      lambda L: L.use_deterministic_algorithms(False)),
    "deterministic_warn_only": (lambda L: L.use_deterministic_algorithms(True, warn_only=True),
                                lambda L: (L.is_deterministic_algorithms_warn_only_enabled(),
                                           L.get_deterministic_debug_mode()),
                                lambda L: L.use_deterministic_algorithms(False)),
    "debug_mode": (lambda L: L.set_deterministic_debug_mode("error"),
                   lambda L: (L.get_deterministic_debug_mode(), L.are_deterministic_algorithms_enabled()),
                   lambda L: L.set_deterministic_debug_mode(0)),
    "matmul_precision": (lambda L: L.set_float32_matmul_precision("medium"), lambda L: L.get_float32_matmul_precision(),
                         lambda L: L.set_float32_matmul_precision("highest")),
}


@pytest.mark.parametrize("name", SWITCHES)
def test_process_switches_read_back_as_torch(name):
    set_, get, reset = SWITCHES[name]
    try:
        set_(ember), set_(torch)
        assert get(ember) == get(torch)
    finally:
        reset(ember), reset(torch)


@pytest.mark.parametrize("call,error", [
    (lambda: ember.set_float32_matmul_precision("fast"), RuntimeError),
    (lambda: ember.use_deterministic_algorithms(1), TypeError),
    (lambda: ember.set_deterministic_debug_mode("loud"), RuntimeError),
    (lambda: ember.set_flush_denormal("yes"), TypeError),
])
def test_bad_switch_values_are_refused(call, error):
    with pytest.raises(error):
        call()


def test_flush_denormal_reports_unsupported_and_interop_is_one():
    assert ember.set_flush_denormal(True) is False
    assert ember.get_num_interop_threads() >= 1


PRINTS = [dict(precision=2), dict(sci_mode=True), dict(sci_mode=False), dict(profile="short"),
          dict(threshold=5, edgeitems=1), dict(profile="full")]
PRINTED = [[1.0, 2.125, 3e-5], [1.5, 1e9], [1.0, 2.0], [[0.125, -2.5], [3.75, 4.0]], list(range(12))]


@pytest.mark.parametrize("options", PRINTS, ids=[str(o) for o in PRINTS])
def test_print_options_match_torch(options):
    try:
        ember.set_printoptions(**options), torch.set_printoptions(**options)
        for values in PRINTED:
            assert repr(ember.tensor(values)) == repr(torch.tensor(values)), values
    finally:
        ember.set_printoptions(profile="default"), torch.set_printoptions(profile="default")
    assert ember.get_printoptions()["precision"] == 4


LAYOUTS = {  # strides and contiguity answers, as PyTorch reports them
    "channels_last": lambda L: L.arange(120.).reshape(2, 3, 4, 5).contiguous(memory_format=L.channels_last),
    "channels_last_3d": lambda L: L.zeros(2, 3, 2, 4, 5).contiguous(memory_format=L.channels_last_3d),
    "clone_channels_last": lambda L: L.ones(2, 3, 4, 5).clone(memory_format=L.channels_last),
    "to_channels_last": lambda L: L.ones(2, 3, 4, 5).to(memory_format=L.channels_last),
    "transposed": lambda L: L.ones(3, 4).t(),
    "expanded": lambda L: L.ones(3, 1).expand(3, 4),
    "sliced": lambda L: L.ones(4, 6)[:, 1:4],
    "empty_channels_last": lambda L: L.empty(2, 3, 4, 4, memory_format=L.channels_last),
    "zeros_like_channels_last": lambda L: L.zeros_like(L.ones(1, 2, 3, 3), memory_format=L.channels_last),
    "empty_strided": lambda L: L.empty_strided((2, 3), (1, 2)),
}


@pytest.mark.parametrize("name", LAYOUTS)
def test_memory_layouts_and_strides_match_torch(name):
    got, want = LAYOUTS[name](ember), LAYOUTS[name](torch)
    assert got.stride() == want.stride()
    for fmt in ("contiguous_format", "channels_last", "channels_last_3d"):
        assert got.is_contiguous(memory_format=getattr(ember, fmt)) == \
            want.is_contiguous(memory_format=getattr(torch, fmt)), fmt
    if name != "empty_channels_last" and name != "empty_strided":
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_channels_last_is_differentiable_and_keeps_values():
    x = ember.randn(2, 3, 4, 5, requires_grad=True)
    y = x.contiguous(memory_format=ember.channels_last)
    (y * ember.arange(5.0)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.broadcast_to(np.arange(5.0, dtype=np.float32), (2, 3, 4, 5)))
    with pytest.raises(RuntimeError, match="4-d"):
        ember.ones(3, 4).contiguous(memory_format=ember.channels_last)


CREATED = {  # creation with torch's other keywords: out=, layout=, pin_memory=
    "zeros_out": lambda L: L.zeros(3, out=L.ones(3)),
    "ones_out_int": lambda L: L.ones(2, out=L.zeros(2, dtype=L.int64)),
    "arange_out": lambda L: L.arange(4, out=L.empty(4, dtype=L.int64)),
    "full_out": lambda L: L.full((2,), 7.0, out=L.empty(2)),
    "linspace_out": lambda L: L.linspace(0, 1, 5, out=L.empty(5)),
    "eye_out": lambda L: L.eye(2, out=L.empty(2, 2)),
    "layout_strided": lambda L: L.zeros(2, layout=L.strided),
    "pin_memory": lambda L: L.ones(2, pin_memory=False),
    "randint_like_dtype": lambda L: L.randint_like(L.ones(3), 0, 1, dtype=L.int64),
}


@pytest.mark.parametrize("name", CREATED)
def test_creation_keywords_match_torch(name):
    got, want = CREATED[name](ember), CREATED[name](torch)
    assert got.dtype.name == str(want.dtype).split(".")[1]
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_out_is_written_and_returned():
    out = ember.ones(3)
    assert ember.zeros(3, out=out) is out and out.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match=r"out has shape \(3,\).*\(4,\)"):
        ember.zeros(4, out=out)
    with pytest.raises(ValueError, match="layout"):
        ember.zeros(2, layout="sparse")


TYPES = ["ember.FloatTensor", "torch.DoubleTensor", "torch.LongTensor", "ember.HalfTensor", "torch.BoolTensor"]


@pytest.mark.parametrize("spec", TYPES)
def test_legacy_type_names_convert_like_torch(spec):
    got, want = ember.ones(2).type(spec), torch.ones(2).type(spec.replace("ember.", "torch."))
    assert got.type() == want.type().replace("torch.", "ember.")
    with pytest.raises(ValueError, match="invalid type"):
        ember.ones(2).type("torch.NotATensor")


def test_module_to_refuses_a_misspelt_keyword_and_accepts_torchs():
    model = ember.nn.Linear(2, 2)
    with pytest.raises(TypeError, match="'dtyp'"):
        model.to(dtyp=ember.float64)
    assert model.to("cpu", non_blocking=True, memory_format=ember.channels_last) is model


OUT_CALLS = {  # the top-level functions' out= argument
    "add": lambda L, o: L.add(L.tensor([1.0, 2.0]), 1.0, out=o(2)),
    "cat": lambda L, o: L.cat([L.ones(2), L.zeros(2)], out=o(4)),
    "matmul": lambda L, o: L.matmul(L.eye(2), L.full((2, 2), 3.0), out=o(2, 2)),
    "sum_dim": lambda L, o: L.sum(L.ones(2, 3), 1, out=o(2)),
    "int_into_float": lambda L, o: L.add(L.tensor([1, 2]), 1, out=o(2)),
    "where": lambda L, o: L.where(L.tensor([True, False]), L.ones(2), L.zeros(2), out=o(2)),
    "max_dim": lambda L, o: L.max(L.tensor([[1.0, 3.0], [4.0, 2.0]]), 1, out=(o(2), L.empty(2, dtype=L.int64))),
}


@pytest.mark.parametrize("name", OUT_CALLS)
def test_out_argument_writes_like_torch(name):
    outs = {}
    for lib in (ember, torch):
        made = []

        def make(*shape, lib=lib, made=made):
            made.append(lib.empty(*shape))
            return made[-1]

        result = OUT_CALLS[name](lib, make)
        first = result[0] if isinstance(result, tuple) else result
        assert first is made[0]  # out itself comes back
        outs[lib.__name__] = [r.numpy() for r in (result if isinstance(result, tuple) else (result,))]
    for got, want in zip(outs["ember"], outs["torch"]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("call,words", [
    (lambda: ember.add(ember.tensor([1.5]), 1, out=ember.empty(1, dtype=ember.int64)), "can't be cast"),
    (lambda: ember.add(ember.ones(2, requires_grad=True), 1, out=ember.empty(2)), "automatic differentiation"),
    (lambda: ember.add(ember.ones(2), 1, out=ember.empty(3)), "Ember does not resize"),
    (lambda: ember.max(ember.ones(2, 2), 1, out=ember.empty(2)), "tuple of 2"),
])
def test_bad_out_arguments_are_refused(call, words):
    with pytest.raises((RuntimeError, TypeError), match=words):
        call()
