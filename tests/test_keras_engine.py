"""Keras on the one engine: keras.Layer is an nn.Module (tracking, state dicts, modes, hooks, to()),
TorchModuleWrapper trains a real nn.Sequential inside a Keras model, conv / pooling agree with the earlier
strided-slice versions, RNN dropout follows Keras 3, summary() of a subclassed model shows real shapes."""

import itertools

import numpy as np
import pytest

import ember
from ember import keras, nn
from ember.keras import layers
from ember.keras.layers.pooling import pool2d_slices, pool_nhwc


class Tower(keras.Model):
    def __init__(self):
        super().__init__()
        self.blocks = [layers.Dense(4, activation="relu"), layers.Dense(4)]
        self.norm = layers.BatchNormalization()
        self.head = layers.Dense(2)

    def call(self, x, training=None):
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x, training=training))


def _x(n=6, d=3):
    return np.random.default_rng(0).normal(size=(n, d)).astype("float32")


def test_layer_is_a_module_with_sensible_keys():
    model = Tower()
    model(_x())
    assert isinstance(model, nn.Module) and isinstance(model.head, nn.Module)
    names = [n for n, _ in model.named_parameters()]
    assert names == [
        "blocks.0.kernel",
        "blocks.0.bias",
        "blocks.1.kernel",
        "blocks.1.bias",
        "norm.gamma",
        "norm.beta",
        "head.kernel",
        "head.bias",
    ]
    assert [n for n, _ in model.named_buffers()] == ["norm.moving_mean", "norm.moving_variance"]
    assert len(model.weights) == 10 and sum(p.numel() for p in model.parameters()) == 16 + 20 + 8 + 10
    seq = keras.Sequential([layers.Dense(2, input_shape=(3,), name="first"), layers.Dense(1, name="last")])
    assert list(seq.state_dict()) == ["first.kernel", "first.bias", "last.kernel", "last.bias"]


def test_state_dict_round_trip_and_strict_errors():
    a, b = Tower(), Tower()
    x = _x()
    a(x), b(x)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    with pytest.raises(RuntimeError, match="head.kernel"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "head.kernel"})


def test_keras_model_as_submodule_trained_by_ember_optim():
    inner = Tower()
    net = nn.Sequential(nn.Linear(5, 3), inner)
    x, y = ember.tensor(_x(16, 5)), ember.tensor(np.ones((16, 2), "float32"))
    net(x)  # builds the Keras layers so the optimizer sees their weights
    assert "1.head.kernel" in net.state_dict() and "1.norm.moving_mean" in net.state_dict()
    opt = ember.optim.SGD(net.parameters(), lr=0.05)
    losses = []
    for _ in range(20):
        loss = ((net(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


def test_train_eval_drive_keras_training_flag():
    drop = keras.Sequential([layers.Dropout(0.5, input_shape=(100,))])
    x = np.ones((4, 100), "float32")
    assert drop.training is None and np.all(drop(x).numpy() == 1)  # Keras default: inference
    drop.train()
    assert drop.layers[0].training is True and np.any(drop(x).numpy() == 0)
    drop.eval()
    assert np.all(drop(x).numpy() == 1)
    assert np.any(drop(x, training=True).numpy() == 0)  # an explicit argument wins


def test_forward_hooks_and_to():
    model = Tower()
    seen = []
    handle = model.head.register_forward_hook(lambda mod, args, out: seen.append(tuple(out.shape)))
    model(_x(5))
    handle.remove()
    model(_x(5))
    assert seen == [(5, 2)]
    moving = model.norm.moving_mean
    model.to(ember.float64)
    assert model.norm.moving_mean is moving and moving.dtype == ember.float64
    assert all(w.dtype == ember.float64 for w in model.weights)
    assert model(_x(5).astype("float64")).dtype == ember.float64


def test_attribute_tracking_does_not_duplicate_or_block_reassignment():
    class Custom(layers.Layer):
        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1],), initializer="ones", name="scale")
            self.extra = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")

        def call(self, x):
            return x * self.w

    layer = Custom()
    layer(_x())
    assert list(layer.state_dict()) == ["scale", "count"] and layer.w is layer.weights[0]
    layer.sub = layers.Dense(1)
    layer.sub = None  # Keras allows replacing a tracked sublayer with anything
    assert "sub" not in dict(layer.named_children())


def test_torch_module_wrapper_trains_nn_sequential_with_fit():
    body = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    model = keras.Sequential(
        [
            keras.Input((4,)),
            layers.TorchModuleWrapper(body),
            layers.Softmax() if hasattr(layers, "Softmax") else layers.Activation("softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0).astype("int64")
    before = body[0].weight.detach().numpy().copy()
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.6 * hist.history["loss"][0]
    assert hist.history["accuracy"][-1] > 0.8
    assert not np.allclose(before, body[0].weight.detach().numpy())  # the real module's parameters moved
    assert len(model.trainable_weights) == 4
    assert list(model.state_dict())[0].endswith("module.0.weight")
    with pytest.raises(TypeError, match="ember.nn.Module"):
        layers.TorchModuleWrapper(lambda t: t)


def test_nn_module_attribute_is_wrapped_like_keras3():
    class Mixed(keras.Model):
        def __init__(self):
            super().__init__()
            self.torch_part = nn.Linear(3, 2)

        def call(self, x):
            return self.torch_part(x)

    m = Mixed()
    assert isinstance(m.torch_part, layers.TorchModuleWrapper)
    m(_x())
    assert len(m.trainable_weights) == 2 and list(m.state_dict()) == [
        "torch_part.module.weight",
        "torch_part.module.bias",
    ]


def test_summary_of_subclassed_model_shows_recorded_shapes(capsys):
    model = Tower()
    model.summary()
    assert "?" in capsys.readouterr().out
    model(_x())
    model.summary()
    out = capsys.readouterr().out
    assert "(None, 4)" in out and "(None, 2)" in out and "?" not in out


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_on_nn_functional_matches_slice_baseline(kind):
    rng = np.random.default_rng(0)
    for h, w, k, s, pad in itertools.product(
        [5, 8], [4, 7], [(1, 2), (3, 2)], [(1, 1), (2, 3)], ["valid", "same"]
    ):
        x = ember.tensor(rng.normal(size=(2, h, w, 3)).astype("float32"))
        a, b = pool_nhwc(x, k, s, pad, kind), pool2d_slices(x, k, s, pad, kind)
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=f"{h, w, k, s, pad}")


@pytest.mark.parametrize("layer, shape, op", [
    (layers.MaxPooling2D(), (2, 6, 6, 3), "max_pool"),
    (layers.AveragePooling2D(3, 2, padding="same"), (2, 7, 7, 3), "avg_pool"),
    (layers.MaxPooling1D(2, padding="same"), (2, 5, 3), "max_pool"),
    (layers.AveragePooling1D(), (2, 6, 3), "avg_pool"),
], ids=["MaxPooling2D", "AveragePooling2D-same", "MaxPooling1D-same", "AveragePooling1D"])
def test_keras_pools_are_layer_nodes_in_the_ir(layer, shape, op):
    from ember.graph import trace

    ops = [n.op for n in trace(layer, ember.randn(*shape)).nodes]
    assert op in ops and "amax" not in ops and "mean" not in ops, ops


def test_rnn_dropout_masks_fixed_across_time():
    rnn = layers.SimpleRNN(5, dropout=0.5, return_sequences=True, recurrent_initializer="zeros")
    x = np.ones((3, 6, 8), "float32")
    out = rnn(x, training=True).detach().numpy()
    np.testing.assert_allclose(out, np.repeat(out[:, :1], 6, axis=1), atol=1e-6)  # same mask every step
    assert not np.allclose(out, rnn(x).detach().numpy())  # ... and it did drop something
    np.testing.assert_allclose(rnn(x).detach().numpy(), rnn(x, training=False).detach().numpy())


def test_lstm_recurrent_dropout_uses_keras3_per_gate_masks():
    layer = layers.LSTM(3, dropout=0.3, recurrent_dropout=0.4, return_sequences=True)
    x = np.random.default_rng(0).normal(size=(2, 4, 5)).astype("float32")
    layer(x)
    rng = np.random.default_rng(1)
    drawn = []

    def fake_mask(shape, rate, like):
        m = (rng.random(shape) >= rate).astype("float32") / (1 - rate)
        drawn.append(m)
        return ember.tensor(m)

    layer._dropout_mask = fake_mask
    out = layer(x, training=True).detach().numpy()
    assert len(drawn) == 8  # 4 input masks, 4 recurrent masks
    k, u, b = layer.kernel.numpy(), layer.recurrent_kernel.numpy(), layer.bias.numpy()
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, c, ref = np.zeros((2, 3)), np.zeros((2, 3)), []
    for t in range(4):
        z = [
            x[:, t] * drawn[g] @ k[:, 3 * g : 3 * g + 3]
            + b[3 * g : 3 * g + 3]
            + (h * drawn[4 + g]) @ u[:, 3 * g : 3 * g + 3]
            for g in range(4)
        ]
        c = sig(z[1]) * c + sig(z[0]) * np.tanh(z[2])
        h = sig(z[3]) * np.tanh(c)
        ref.append(h)
    np.testing.assert_allclose(out, np.stack(ref, 1), atol=1e-5)


def test_gru_dropout_trains_and_bidirectional_keeps_it():
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            layers.Bidirectional(layers.GRU(4, dropout=0.2, recurrent_dropout=0.2)),
            layers.Dense(1),
        ]
    )
    assert model.layers[0].backward_layer.recurrent_dropout == 0.2
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(32, 5, 3)).astype("float32")
    hist = model.fit(x, x.sum((1, 2))[:, None], epochs=3, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
