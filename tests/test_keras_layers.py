"""One contract test per layer (build, weight count, eager call, config + save/load round trip, one fit step
lowers the loss) and formula checks against PyTorch with copied/transposed weights."""

import numpy as np
import pytest

from ember import keras
from ember.keras import layers

R = np.random.default_rng(0)

# (factory, input shape without batch, input dtype, expected weight count)
CASES = {
    "Dense": (lambda: layers.Dense(3, activation="relu"), (5,), "float32", 2),
    "Activation": (lambda: layers.Activation("tanh"), (5,), "float32", 0),
    "Dropout": (lambda: layers.Dropout(0.3), (5,), "float32", 0),
    "Flatten": (lambda: layers.Flatten(), (2, 3), "float32", 0),
    "Reshape": (lambda: layers.Reshape((3, 2)), (6,), "float32", 0),
    "Permute": (lambda: layers.Permute((2, 1)), (2, 3), "float32", 0),
    "Rescaling": (lambda: layers.Rescaling(0.5, 1.0), (4,), "float32", 0),
    "Embedding": (lambda: layers.Embedding(10, 4), (3,), "int64", 1),
    "Conv1D": (lambda: layers.Conv1D(3, 2, padding="same"), (6, 2), "float32", 2),
    "Conv2D": (lambda: layers.Conv2D(3, 3, strides=2, padding="same"), (6, 6, 2), "float32", 2),
    "Conv2DTranspose": (
        lambda: layers.Conv2DTranspose(2, 3, strides=2, padding="same"),
        (3, 3, 2),
        "float32",
        2,
    ),
    "MaxPooling1D": (lambda: layers.MaxPooling1D(2), (6, 2), "float32", 0),
    "MaxPooling2D": (lambda: layers.MaxPooling2D(2), (4, 4, 2), "float32", 0),
    "AveragePooling2D": (
        lambda: layers.AveragePooling2D(2, strides=1, padding="same"),
        (4, 4, 2),
        "float32",
        0,
    ),
    "GlobalAveragePooling1D": (lambda: layers.GlobalAveragePooling1D(), (5, 3), "float32", 0),
    "GlobalAveragePooling2D": (lambda: layers.GlobalAveragePooling2D(), (4, 4, 3), "float32", 0),
    "GlobalMaxPooling2D": (lambda: layers.GlobalMaxPooling2D(), (4, 4, 3), "float32", 0),
    "BatchNormalization": (lambda: layers.BatchNormalization(), (4,), "float32", 4),
    "LayerNormalization": (lambda: layers.LayerNormalization(), (4,), "float32", 2),
    "SimpleRNN": (lambda: layers.SimpleRNN(3), (4, 2), "float32", 3),
    "LSTM": (lambda: layers.LSTM(3, return_sequences=True), (4, 2), "float32", 3),
    "GRU": (lambda: layers.GRU(3), (4, 2), "float32", 3),
    "Bidirectional": (lambda: layers.Bidirectional(layers.LSTM(3)), (4, 2), "float32", 6),
}


def _sample(shape, dtype, n=8):
    if dtype == "int64":
        return R.integers(0, 10, (n,) + shape)
    return R.normal(size=(n,) + shape).astype("float32")


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_contract(name, tmp_path):
    factory, shape, dtype, n_weights = CASES[name]
    layer = factory()
    assert not layer.built
    x = _sample(shape, dtype)
    y = layer(x)
    assert layer.built and len(layer.weights) == n_weights
    assert layer.count_params() == sum(int(np.prod(w.shape)) for w in layer.weights)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert type(clone) is type(layer) and clone.get_config().keys() == config.keys()
    # a model around the layer: save/load round trip and one training step
    inp = keras.Input(shape=shape, dtype=dtype)
    out = layers.Dense(1)(layers.Flatten()(factory()(inp)))
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    target = R.normal(size=(8, 1)).astype("float32")
    before = model.evaluate(x, target, verbose=0)
    model.fit(x, target, epochs=1, batch_size=8, verbose=0, shuffle=False)
    after = model.evaluate(x, target, verbose=0)
    assert after < before, f"{name}: one SGD step did not lower the loss ({before} -> {after})"
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6
    )
    assert tuple(np.shape(y))[0] == 8


def test_multi_head_attention_contract(tmp_path):
    q = keras.Input((5, 8))
    out = layers.GlobalAveragePooling1D()(layers.MultiHeadAttention(2, 4)(q, q))
    model = keras.Model(q, layers.Dense(1)(out))
    assert len(model.layers[1].weights) == 8
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    x, t = R.normal(size=(8, 5, 8)).astype("float32"), R.normal(size=(8, 1)).astype("float32")
    before = model.evaluate(x, t, verbose=0)
    model.fit(x, t, batch_size=8, verbose=0)
    assert model.evaluate(x, t, verbose=0) < before
    model.save(str(tmp_path / "mha.keras"))
    np.testing.assert_allclose(
        keras.models.load_model(str(tmp_path / "mha.keras")).predict(x, verbose=0),
        model.predict(x, verbose=0),
        rtol=1e-6,
    )


def test_bad_inputs_name_layer_and_shapes():
    dense = layers.Dense(3, name="head")
    dense(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match=r"head.*4.*\(2, 5\)"):
        dense(np.ones((2, 5), "float32"))
    with pytest.raises(ValueError, match="Concatenate"):
        layers.Concatenate()([np.ones((2, 3), "float32"), np.ones((3, 3), "float32")])
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)


def test_initializer_defaults_follow_keras():
    dense = layers.Dense(50)
    dense.build((200,))
    limit = np.sqrt(6 / 250)
    k = dense.kernel.numpy()
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.9 * limit and not dense.bias.numpy().any()
    lstm = layers.LSTM(6)
    lstm.build((None, 3, 4))
    r = lstm.recurrent_kernel.numpy()  # (6, 24): orthogonal rows
    np.testing.assert_allclose(r @ r.T, np.eye(6), atol=1e-5)
    assert (lstm.bias.numpy()[6:12] == 1).all() and not lstm.bias.numpy()[:6].any()


torch = pytest.importorskip("torch")


def _n(t):
    return keras.ops.convert_to_numpy(t)


def _t(a):
    return torch.tensor(np.asarray(a))


def test_dense_and_conv2d_match_torch():
    x = R.normal(size=(2, 7, 7, 3)).astype("float32")
    conv = layers.Conv2D(4, 3, strides=2, padding="same")
    ours = _n(conv(x))
    w = torch.tensor(conv.kernel.numpy()).permute(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
    xt = torch.nn.functional.pad(_t(x).permute(0, 3, 1, 2), (1, 1, 1, 1))
    ref = torch.nn.functional.conv2d(xt, w, _t(conv.bias.numpy()), stride=2).permute(0, 2, 3, 1)
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-4, atol=1e-5)
    dense = layers.Dense(5)
    xd = R.normal(size=(3, 4)).astype("float32")
    ours = _n(dense(xd))
    ref = torch.nn.functional.linear(_t(xd), _t(dense.kernel.numpy()).T, _t(dense.bias.numpy()))
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-5, atol=1e-6)


def test_conv2d_transpose_matches_torch():
    x = R.normal(size=(2, 3, 3, 2)).astype("float32")
    layer = layers.Conv2DTranspose(4, 3, strides=2, padding="valid")
    ours = _n(layer(x))
    w = torch.tensor(layer.kernel.numpy()).permute(3, 2, 0, 1)  # (kh, kw, out, in) -> (in, out, kh, kw)
    ref = torch.nn.functional.conv_transpose2d(_t(x).permute(0, 3, 1, 2), w, _t(layer.bias.numpy()), stride=2)
    np.testing.assert_allclose(ours, ref.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-5)


def test_lstm_matches_torch():
    x = R.normal(size=(2, 5, 3)).astype("float32")
    layer = layers.LSTM(4, return_sequences=True, return_state=True, bias_initializer="random_normal")
    seq, h, c = [_n(t) for t in layer(x)]
    ref = torch.nn.LSTM(3, 4, batch_first=True)
    with torch.no_grad():  # Keras gates (i, f, c, o) == torch gates (i, f, g, o)
        ref.weight_ih_l0.copy_(_t(layer.kernel.numpy()).T)
        ref.weight_hh_l0.copy_(_t(layer.recurrent_kernel.numpy()).T)
        ref.bias_ih_l0.copy_(_t(layer.bias.numpy()))
        ref.bias_hh_l0.zero_()
        out, (hn, cn) = ref(_t(x))
    np.testing.assert_allclose(seq, out.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h, hn[0].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(c, cn[0].numpy(), rtol=1e-4, atol=1e-5)


def test_gru_reset_after_matches_torch():
    x = R.normal(size=(2, 5, 3)).astype("float32")
    layer = layers.GRU(4, return_sequences=True, bias_initializer="random_normal")
    ours = _n(layer(x))
    k, r, b = layer.kernel.numpy(), layer.recurrent_kernel.numpy(), layer.bias.numpy()

    def reorder(m):  # Keras (z, r, h) -> torch (r, z, n) along the last axis
        z_, r_, h_ = np.split(m, 3, axis=-1)
        return np.concatenate([r_, z_, h_], axis=-1)

    ref = torch.nn.GRU(3, 4, batch_first=True)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(_t(reorder(k)).T)
        ref.weight_hh_l0.copy_(_t(reorder(r)).T)
        ref.bias_ih_l0.copy_(_t(reorder(b[0])))
        ref.bias_hh_l0.copy_(_t(reorder(b[1])))
        out, _ = ref(_t(x))
    np.testing.assert_allclose(ours, out.numpy(), rtol=1e-4, atol=1e-5)


def test_batch_normalization_matches_torch():
    x = R.normal(2.0, 3.0, size=(16, 5)).astype("float32")
    bn = layers.BatchNormalization(momentum=0.9)
    ours = _n(bn(x, training=True))
    ref = torch.nn.BatchNorm1d(5, eps=1e-3, momentum=0.1)
    out = ref(_t(x))
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.moving_mean.numpy(), ref.running_mean.numpy(), rtol=1e-5)
    biased = x.var(0) * 0.1 + 0.9  # Keras updates the moving variance with the biased batch variance
    np.testing.assert_allclose(bn.moving_variance.numpy(), biased, rtol=1e-4)
    np.testing.assert_allclose(
        _n(bn(x, training=False)),
        (x - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + 1e-3),
        rtol=1e-4,
        atol=1e-5,
    )


def test_multi_head_attention_matches_torch():
    x = R.normal(size=(2, 4, 6)).astype("float32")
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, bias_initializer="random_normal")
    ours = _n(mha(x, x))
    ref = torch.nn.MultiheadAttention(6, 2, batch_first=True)
    w = {v.name: v.numpy() for v in mha.weights}
    with torch.no_grad():
        ref.in_proj_weight.copy_(
            _t(np.concatenate([w[f"{n}_kernel"].reshape(6, 6).T for n in ("query", "key", "value")]))
        )
        ref.in_proj_bias.copy_(
            _t(np.concatenate([w[f"{n}_bias"].reshape(6) for n in ("query", "key", "value")]))
        )
        ref.out_proj.weight.copy_(_t(w["output_kernel"].reshape(6, 6).T))
        ref.out_proj.bias.copy_(_t(w["output_bias"]))
        out, _ = ref(_t(x), _t(x), _t(x))
    np.testing.assert_allclose(ours, out.numpy(), rtol=1e-4, atol=1e-5)
