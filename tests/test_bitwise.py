"""Bitwise ops on integer and bool tensors (ember/ops/bitwise.py): values and dtypes equal torch's over a table of
ops x dtypes, the operators, compiled equals eager, ONNX (opset 18) and TFLite where they have the op, errors."""
import io

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

BINARY = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"]
DTYPES = ["int64", "int32", "int16", "uint8", "bool"]


def _operands(dtype, rng):
    if dtype == "bool":
        return rng.random((3, 4)) < 0.5, rng.random((4,)) < 0.5
    hi = 100 if dtype != "uint8" else 250
    lo = 0 if dtype == "uint8" else -hi
    return rng.integers(lo, hi, (3, 4)).astype(dtype), rng.integers(0 if dtype == "uint8" else -hi, hi, (4,)).astype(
        dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BINARY + ["bitwise_not"])
def test_bitwise_equals_torch(name, dtype):
    if name.endswith("shift") and dtype == "bool":
        pytest.skip("torch has no shifts on bool either")
    a, b = _operands(dtype, np.random.default_rng(0))
    if name.endswith("shift"):
        b = np.abs(b.astype(np.int64)).astype(dtype) % 5  # shift counts in [0, 5)
    args = (a,) if name == "bitwise_not" else (a, b)
    ours = getattr(ember, name)(*[ember.tensor(x) for x in args])
    ref = getattr(torch, name)(*[torch.from_numpy(np.ascontiguousarray(x)) for x in args])
    assert ours.dtype.name == str(ref.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())


OPERATORS = [("&", lambda x, y: x & y), ("|", lambda x, y: x | y), ("^", lambda x, y: x ^ y),
             ("~", lambda x, y: ~x), ("<<", lambda x, y: x << y), (">>", lambda x, y: x >> y),
             ("scalar &", lambda x, y: x & 6), ("scalar rshift", lambda x, y: 64 >> y), ("method", lambda x, y:
                                                                                      x.bitwise_xor(y))]


@pytest.mark.parametrize("name,fn", OPERATORS, ids=[o[0] for o in OPERATORS])
def test_operators_equal_torch(name, fn):
    a, b = np.array([[12, -1, 5], [7, 0, -8]]), np.array([3, 1, 2])
    np.testing.assert_array_equal(fn(ember.tensor(a), ember.tensor(b)).numpy(),
                                  fn(torch.tensor(a), torch.tensor(b)).numpy())


def test_compiled_equals_eager():
    def f(x, y):
        return ((x & y) ^ (x >> 1)) | ~(y << 2)

    x, y = ember.tensor([[12, -3, 7, 100]]), ember.tensor([5, 9, -2, 1])
    np.testing.assert_array_equal(ember.compile(f)(x, y).numpy(), f(x, y).numpy())


@pytest.mark.parametrize("make,match", [
    (lambda: ember.ones(2) & ember.tensor([1, 2]), "only integer and bool tensors.*float32"),
    (lambda: ember.bitwise_not(ember.zeros(2)), "bitwise_not.*float32"),
    (lambda: ember.tensor([True]) << ember.tensor([True]), "shifts need integer tensors"),
])
def test_float_and_bool_misuse_is_named(make, match):
    with pytest.raises(TypeError, match=match):
        make()


class _Bits(ember.nn.Module):
    def forward(self, x, y):
        return (x & y) + (x | y) - (x ^ y) + ~x


def test_onnx_opset18_runs_in_onnxruntime_and_opset17_says_why():
    ort = pytest.importorskip("onnxruntime")
    x, y = ember.tensor([[12, -3, 7]]), ember.tensor([[5, 9, -2]])
    f = io.BytesIO()
    ember.onnx.export(_Bits(), (x, y), f, input_names=["x", "y"], opset_version=18)
    sess = ort.InferenceSession(f.getvalue())
    (out,) = sess.run(None, {"x": x.numpy(), "y": y.numpy()})
    np.testing.assert_array_equal(out, _Bits()(x, y).numpy())
    with pytest.raises(Exception, match="opset_version=18"):
        ember.onnx.export(_Bits(), (x, y), io.BytesIO(), opset_version=17)


class _Xor(ember.nn.Module):
    def forward(self, x, y):
        return (x ^ y) >> 1


def test_tflite_xor_and_right_shift_run_in_litert():
    pytest.importorskip("flatbuffers")
    from test_export_tflite import run_litert

    x, y = ember.tensor([[12, -3, 7]], dtype=ember.int32), ember.tensor([[5, 9, -2]], dtype=ember.int32)
    data = ember.export.tflite(_Xor(), (x, y))
    (out,) = run_litert(data, [x.numpy(), y.numpy()])
    np.testing.assert_array_equal(out, _Xor()(x, y).numpy())
