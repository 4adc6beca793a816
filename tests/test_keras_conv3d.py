"""Conv3D and the 3-D pooling layers against real Keras 3 (torch backend): same weights -> same outputs and
same input gradients; ``nn.functional.avg_pool3d`` against PyTorch."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

import ember  # noqa: E402
from ember import keras  # noqa: E402

X = np.random.default_rng(3).standard_normal((2, 5, 6, 7, 3)).astype("float32")

ROWS = [
    ("Conv3D", dict(filters=4, kernel_size=3)),
    ("Conv3D", dict(filters=2, kernel_size=(2, 3, 1), strides=(1, 2, 2), padding="same", activation="relu")),
    ("Conv3D", dict(filters=3, kernel_size=2, dilation_rate=2, use_bias=False)),
    ("MaxPooling3D", dict(pool_size=2)),
    ("MaxPooling3D", dict(pool_size=(2, 3, 2), strides=(1, 2, 2), padding="same")),
    ("AveragePooling3D", dict(pool_size=2, strides=1)),
    ("GlobalAveragePooling3D", dict()),
    ("GlobalMaxPooling3D", dict(keepdims=True)),
]


def _ours(layer, x):
    xe = ember.tensor(x, requires_grad=True)
    out = layer(xe)
    out.sum().backward()
    return out.detach().numpy(), xe.grad.numpy()


def _theirs(layer, x):
    xt = torch.tensor(x, requires_grad=True)
    out = layer(xt)
    out.sum().backward()
    return out.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("name,kwargs", ROWS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ROWS)])
def test_3d_layer_matches_keras(name, kwargs):
    ours, theirs = getattr(keras.layers, name)(**kwargs), getattr(real.layers, name)(**kwargs)
    ours.build(X.shape)
    theirs.build(X.shape)
    assert [tuple(w.shape) for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    theirs.set_weights(ours.get_weights())
    (out, grad), (want, want_grad) = _ours(ours, X), _theirs(theirs, X)
    assert out.shape == want.shape
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-4, atol=1e-5)


def _same_avg_pool_reference(x, k, s):
    """Keras's 'same' average pooling (TensorFlow's rule, which Keras's JAX/TF backends follow): output
    ceil(n / s), padding split with the odd one after, mean over the real inputs in each window."""
    outs = [-(-n // s) for n in x.shape[1:4]]
    before = [max((o - 1) * s + k - n, 0) // 2 for o, n in zip(outs, x.shape[1:4])]
    out = np.zeros((x.shape[0], *outs, x.shape[4]), "float32")
    for idx in np.ndindex(*outs):
        lo = [max(0, i * s - p) for i, p in zip(idx, before)]
        hi = [min(n, i * s - p + k) for i, p, n in zip(idx, before, x.shape[1:4])]
        out[(slice(None), *idx)] = x[:, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].mean((1, 2, 3))
    return out


def test_average_pooling3d_same_follows_keras_rule():
    # Keras 3's torch backend pads 3-D 'same' average pooling differently from its JAX/TF backends (and from
    # its own 2-D rule), so this row is checked against the documented rule directly.
    out = keras.layers.AveragePooling3D(3, 2, padding="same")(ember.tensor(X)).numpy()
    np.testing.assert_allclose(out, _same_avg_pool_reference(X, 3, 2), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=(2, 3, 2), stride=(1, 2, 3), padding=(1, 0, 1),
                                         ceil_mode=True, count_include_pad=False),
                                    dict(kernel_size=2, divisor_override=3)])
def test_avg_pool3d_matches_torch(kwargs):
    x = np.random.default_rng(0).random((2, 3, 5, 6, 7)).astype("float32")
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, want = ember.nn.functional.avg_pool3d(xe, **kwargs), torch.nn.functional.avg_pool3d(xt, **kwargs)
    g = np.random.default_rng(1).random(tuple(want.shape)).astype("float32")
    out.backward(ember.tensor(g))
    want.backward(torch.tensor(g))
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=(1, 2, 1), padding=1), dict(dilation=2, groups=2)])
def test_conv3d_matches_torch_with_gradients(kwargs):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 4, 6, 5, 6)), rng.standard_normal((6, 4 // kwargs.get("groups", 1), 2, 3, 2)), \
        rng.standard_normal(6)
    ours = [ember.tensor(a.astype("float32"), requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a.astype("float32"), requires_grad=True) for a in (x, w, b)]
    out, want = ember.nn.functional.conv3d(*ours, **kwargs), torch.nn.functional.conv3d(*theirs, **kwargs)
    (out * out).sum().backward()
    (want * want).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-4, atol=1e-4)
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_conv3d_wrong_rank_names_layer():
    with pytest.raises(ValueError, match=r"Conv3D .*rank 5"):
        keras.layers.Conv3D(2, 3)(ember.ones(2, 5, 5, 3))
