"""Speed-ups of eager paths that must not change a single value (issue 15: real programs' per-step overhead).

Each row compares the fast path with the composition it replaced, bit for bit (forward and gradients), and
with PyTorch where one exists:
- ``F.linear`` on a 1-D input is now the fused ``linear`` primitive (was permute + matmul + add);
- Keras convolutions add their bias and apply an elementwise activation in channels_first layout, before the
  one permute back (were: permute back, then bias and activation on the strided view): outputs bit for bit,
  gradients to the last bit BLAS rounds differently when it reads the same values in another layout;
- integer constraints skip ``value % 1 == 0`` for integer values; ``Categorical.sample`` skips an expand
  to the same shape;
- the backward walk inlines its per-edge sums and checks versions only where a node saved some.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember import keras
from ember.distributions import Categorical, constraints
from ember.keras import activations
from ember.keras.layers import conv as kconv


def _rng(seed=0):
    return np.random.default_rng(seed)


# -- F.linear on 1-D inputs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("in_f, out_f", [(4, 128), (128, 2), (1, 1), (7, 3)])
def test_linear_on_a_vector_equals_the_matmul_composition_and_torch(in_f, out_f):
    rng = _rng(in_f * out_f)
    x, w, b, gy = (rng.standard_normal(s).astype(np.float32) for s in [(in_f,), (out_f, in_f), (out_f,), (out_f,)])
    fused = [ember.tensor(a, requires_grad=True) for a in (x, w, b)]
    old = [ember.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.linear(*fused)
    y_old = old[0] @ old[1].t() + old[2]
    assert y.grad_fn.display_name() == "LinearBackward"
    (y * ember.tensor(gy)).sum().backward()
    (y_old * ember.tensor(gy)).sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), y_old.detach().numpy())
    for a, c in zip(fused, old):
        np.testing.assert_array_equal(a.grad.numpy(), c.grad.numpy())
    tx = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    ty = torch.nn.functional.linear(*tx)
    (ty * torch.tensor(gy)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    for a, c in zip(fused, tx):
        np.testing.assert_allclose(a.grad.numpy(), c.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_linear_on_a_vector_exports_to_onnx_and_matches():
    ort = pytest.importorskip("onnxruntime")
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 2)).eval()
    x = _rng().standard_normal(4).astype(np.float32)
    data = ember.onnx.export(model, (ember.tensor(x),))
    sess = ort.InferenceSession(data if isinstance(data, bytes) else data.SerializeToString())
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x})
    with ember.no_grad():
        want = model(ember.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_linear_on_a_vector_exports_to_tflite_with_its_rank():
    pytest.importorskip("flatbuffers")
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(4, 3), ember.nn.ReLU(), ember.nn.Linear(3, 2)).eval()
    x = _rng().standard_normal(4).astype(np.float32)
    interp = litert.Interpreter(model_content=ember.export.tflite(model, (ember.tensor(x),), dynamic_batch=False))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    got = interp.get_tensor(interp.get_output_details()[0]["index"])
    with ember.no_grad():
        want = model(ember.tensor(x)).numpy()
    assert got.shape == want.shape == (2,)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# -- Keras convolutions: bias and activation in channels_first --------------------------------------------
def _old_call(layer, x):
    """The previous Keras conv call: the channels_last convolution, then bias and activation on it."""
    z = kconv._to_channels_last(layer._conv_first(kconv._to_channels_first(x)))
    if layer.bias is not None:
        z = z + layer.bias
    return layer.activation(z)


def _custom(x):  # an activation the layer cannot know to be elementwise: applied in channels_last
    return x * keras.ops.sigmoid(x)


CONV_ROWS = [
    ("conv2d_same_relu", lambda: keras.layers.Conv2D(5, 3, padding="same", activation="relu"), (2, 7, 6, 3)),
    ("conv2d_valid_sigmoid", lambda: keras.layers.Conv2D(4, (3, 2), activation="sigmoid"), (2, 7, 6, 3)),
    ("conv2d_strided_nobias", lambda: keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False),
     (2, 9, 8, 2)),
    ("conv2d_softmax", lambda: keras.layers.Conv2D(4, 3, padding="same", activation="softmax"), (2, 5, 5, 3)),
    ("conv2d_custom_activation", lambda: keras.layers.Conv2D(4, 3, activation=_custom), (2, 6, 6, 2)),
    ("conv2d_dilated_tanh", lambda: keras.layers.Conv2D(3, 3, dilation_rate=2, activation="tanh"), (1, 9, 9, 2)),
    ("conv1d_same_gelu", lambda: keras.layers.Conv1D(6, 5, padding="same", activation="gelu"), (3, 11, 4)),
    ("conv3d_elu", lambda: keras.layers.Conv3D(3, 2, activation="elu"), (1, 4, 5, 4, 2)),
    ("conv2d_transpose_same_relu",
     lambda: keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"), (2, 5, 4, 3)),
    ("conv2d_transpose_4x4_leaky",
     lambda: keras.layers.Conv2DTranspose(3, (4, 4), strides=2, padding="same", activation="leaky_relu"),
     (2, 4, 4, 5)),
    ("conv2d_transpose_valid", lambda: keras.layers.Conv2DTranspose(2, 3, strides=(2, 1)), (1, 3, 4, 2)),
    ("conv1d_transpose_relu", lambda: keras.layers.Conv1DTranspose(3, 3, strides=2, activation="relu"),
     (2, 5, 4)),
    ("depthwise_relu", lambda: keras.layers.DepthwiseConv2D(3, padding="same", activation="relu"), (2, 6, 6, 3)),
]


@pytest.mark.parametrize("name, make, shape", CONV_ROWS, ids=[r[0] for r in CONV_ROWS])
def test_keras_conv_call_equals_the_channels_last_composition(name, make, shape):
    ember.manual_seed(len(name))  # the kernel's initial values
    layer = make()
    x_np = _rng(len(name)).standard_normal(shape).astype(np.float32)
    layer.build(shape)
    if layer.bias is not None:  # a nonzero bias, so that where it is added matters
        with ember.no_grad():
            layer.bias.value.copy_(ember.tensor(_rng(1).standard_normal(tuple(layer.bias.shape)).astype(np.float32)))
    x_new, x_old = ember.tensor(x_np, requires_grad=True), ember.tensor(x_np, requires_grad=True)
    y_new, y_old = layer(x_new), _old_call(layer, x_old)
    np.testing.assert_array_equal(y_new.detach().numpy(), y_old.detach().numpy())
    gy = ember.tensor(_rng(2).standard_normal(tuple(y_new.shape)).astype(np.float32))
    grads = []
    for x, y in ((x_new, y_new), (x_old, y_old)):
        for v in layer.trainable_weights:
            v.value.grad = None
        (y * gy).sum().backward()
        grads.append([x.grad.numpy()] + [v.value.grad.numpy() for v in layer.trainable_weights])
    for a, b in zip(*grads):  # the same sums; the GEMMs of the conv's backward read them in another layout,
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)  # so BLAS may round the last bits differently


def test_the_elementwise_activation_set_leaves_out_the_axis_ones():
    assert activations.softmax not in kconv._ELEMENTWISE and activations.log_softmax not in kconv._ELEMENTWISE
    assert {activations.relu, activations.sigmoid, activations.linear} <= kconv._ELEMENTWISE


# -- distributions -------------------------------------------------------------------------------------------
CONSTRAINT_ROWS = [
    ("int_in", constraints.integer_interval(0, 3), [0, 1, 3], None),
    ("int_out", constraints.integer_interval(0, 3), [0, 4, -1], None),
    ("float_fraction", constraints.integer_interval(0, 3), [0.0, 1.5, 3.0], "float32"),
    ("float_whole", constraints.integer_interval(0, 3), [0.0, 2.0, 3.0], "float32"),
    ("bool", constraints.integer_interval(0, 1), [True, False], None),
    ("nonneg_int", constraints.nonnegative_integer, [0, 5, -2], None),
    ("nonneg_float", constraints.nonnegative_integer, [0.0, 0.5, 2.0, -1.0], "float32"),
]


@pytest.mark.parametrize("name, con, values, dtype", CONSTRAINT_ROWS, ids=[r[0] for r in CONSTRAINT_ROWS])
def test_integer_constraints_match_torch(name, con, values, dtype):
    got = con.check(ember.tensor(values, dtype=getattr(ember, dtype) if dtype else None)).numpy()
    tcon = {"IntegerInterval": lambda: torch.distributions.constraints.integer_interval(
        con.lower_bound, con.upper_bound)}.get(type(con).__name__.lstrip("_"),
                                                lambda: torch.distributions.constraints.nonnegative_integer)()
    want = tcon.check(torch.tensor(values, dtype=getattr(torch, dtype) if dtype else None)).numpy()
    np.testing.assert_array_equal(got, want)


def test_categorical_samples_and_log_probs_are_unchanged_and_validated():
    probs = ember.tensor([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]])
    ember.manual_seed(3)
    d = Categorical(probs)
    s = d.sample()
    ember.manual_seed(3)
    cdf = probs.cumsum(-1)
    u = ember.rand(2, 1) * cdf[..., -1:]
    want = (cdf.expand(2, 3) <= u).sum(-1).clamp(max=2)
    np.testing.assert_array_equal(s.numpy(), want.numpy())
    ember.manual_seed(3)
    assert tuple(d.sample((4,)).shape) == (4, 2)
    lp = d.log_prob(ember.tensor([1, 0]))
    np.testing.assert_allclose(lp.numpy(), np.log([0.5, 0.9]), rtol=1e-6)
    with pytest.raises(ValueError, match="support"):
        d.log_prob(ember.tensor([3, 0]))
    with pytest.raises(ValueError, match="support"):
        d.log_prob(ember.tensor([0.5, 0.0]))


# -- the backward walk --------------------------------------------------------------------------------------
def test_backward_still_reports_in_place_changes_and_anomalies():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    z = y * y
    with ember.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()
    w = ember.tensor([0.0, 1.0], requires_grad=True)
    with ember.autograd.detect_anomaly():
        out = w.sqrt().sum()
        with pytest.raises(RuntimeError, match="backward of 'sqrt'"):
            out.backward()
    assert not ember.autograd.is_anomaly_enabled()


def test_backward_sums_fan_out_like_torch():
    rng = _rng(5)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    e, t = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for lib, v in ((ember, e), (torch, t)):
        h = lib.tanh(v)
        (h * h + h.sum(0) * 2 - h.exp().mean()).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)
