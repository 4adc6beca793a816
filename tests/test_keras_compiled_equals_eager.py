"""Keras ``fit`` / ``train_on_batch`` / ``evaluate`` compiled (``jit_compile=True``: one graph per step) equal
the same calls run eagerly (``jit_compile=False``), from the same seed and weights: the metric logs after every
step and epoch, and at the end every weight, optimizer variable and metric variable, to 1e-6.

Rows: three models (BatchNormalization + Dropout, a small CNN with BatchNormalization, an LSTM) with Adam, and
every Keras optimizer (and gradient clipping, weight decay, a learning-rate schedule) on the first model. The
Dropout masks are drawn inside the compiled graph, so equality also checks that each compiled step draws a
fresh mask from the same generator state as the eager step."""

import numpy as np
import pytest

import ember
from ember import keras
from ember.keras import layers

TOL = dict(rtol=1e-6, atol=1e-6)


def _mlp():
    return keras.Sequential([keras.Input((6,)), layers.Dense(16, activation="relu"), layers.BatchNormalization(),
                             layers.Dropout(0.3), layers.Dense(3, activation="softmax")])


def _cnn():  # no bias before BatchNormalization: its gradient is 0 up to rounding, which Adam would amplify
    return keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 3, padding="same", use_bias=False),
                             layers.BatchNormalization(), layers.Activation("relu"), layers.MaxPooling2D(),
                             layers.Flatten(), layers.Dropout(0.25), layers.Dense(3, activation="softmax")])


def _lstm():
    return keras.Sequential([keras.Input((5, 4)), layers.LSTM(8, dropout=0.2), layers.Dense(3, activation="softmax")])


def _seeded():  # layers with their own seeds: the compiled step advances their SeedGenerators as eager does
    return keras.Sequential([keras.Input((6,)), layers.GaussianNoise(0.2, seed=4), layers.Dense(16, activation="relu"),
                             layers.Dropout(0.3, seed=5), layers.Dense(3, activation="softmax")])


def _mbconv():
    """EfficientNet's pieces: input rescaling, swish, an expand 1x1 convolution, a depthwise convolution,
    squeeze-excite and a stochastic-depth residual (a 1x1 convolution reading a swish output: compiled steps
    once reused that output's buffer while the convolution's columns still pointed into it)."""
    inputs = keras.Input((6, 6, 3))
    x = layers.Normalization(mean=0.2, variance=2.0)(layers.Rescaling(0.5, offset=0.1)(inputs))
    x = layers.ZeroPadding2D(((0, 1), (0, 1)))(x)
    x = layers.Conv2D(8, 3, strides=2, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    skip = x = layers.Activation("swish")(x)
    x = layers.Conv2D(16, 1, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("swish")(x)
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = layers.Activation("swish")(x)
    se = layers.GlobalAveragePooling2D(keepdims=True)(x)
    se = layers.Conv2D(4, 1, activation="swish")(se)
    x = layers.multiply([x, layers.Conv2D(16, 1, activation="sigmoid")(se)])
    x = layers.Conv2D(8, 1, use_bias=False)(x)
    x = layers.Dropout(0.3, noise_shape=(None, 1, 1, 1))(x)
    x = layers.GlobalAveragePooling2D()(layers.add([x, skip]))
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(x))


MODELS = {"mlp_bn_dropout": (_mlp, (6,)), "seeded_noise_dropout": (_seeded, (6,)),
          "cnn_bn": (_cnn, (8, 8, 1)), "lstm": (_lstm, (5, 4)), "mbconv_swish_se": (_mbconv, (6, 6, 3))}

OPTIMIZERS = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "clipnorm": 0.5}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "global_clipnorm": 1.0}),
    ("Adam", {"learning_rate": keras.optimizers.schedules.ExponentialDecay(0.02, 3, 0.5)}),
    ("AdamW", {"learning_rate": 0.01, "clipvalue": 0.1}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    ("Adagrad", {"learning_rate": 0.1}),
]


class _Steps(keras.callbacks.Callback):
    """The metric logs after every training step."""

    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append(self.model.get_metrics_result())


def _data(shape, n=48):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n,) + shape).astype("float32"), rng.integers(0, 3, n)


def _train(model_name, optimizer, jit, callbacks=()):
    make, shape = MODELS[model_name]
    keras.utils.set_random_seed(0)  # the same initial weights and the same dropout masks in both runs
    model = make()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=jit)
    x, y = _data(shape)
    steps = _Steps()
    history = model.fit(x, y, batch_size=8, epochs=3 if callbacks else 2, shuffle=False, verbose=0,
                        callbacks=[steps, *callbacks])
    on_batch = model.train_on_batch(x[:8], y[:8], return_dict=True)
    evaluated = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    return model, {"steps": steps.logs, "epochs": history.history, "train_on_batch": on_batch,
                   "evaluate": evaluated}


def _variables(model):
    """Every weight, optimizer variable and metric variable, keyed by position (layer names differ)."""
    out = {f"weight {i} {w.name}": w.numpy() for i, w in enumerate(model.weights)}
    out.update({f"optimizer {i} {v.name.split('_')[-1]}": v.numpy() for i, v in enumerate(model.optimizer.variables)})
    for m in [model._loss_tracker] + [m for _, m, _, _ in model._compile_metrics.built_metrics]:
        out.update({f"metric {m.name}/{v.name}": v.numpy() for v in m.variables})
    return out


def _check(model_name, optimizer_factory, callbacks=lambda: ()):
    compiled, logs_c = _train(model_name, optimizer_factory(), jit=True, callbacks=callbacks())
    eager, logs_e = _train(model_name, optimizer_factory(), jit=False, callbacks=callbacks())
    stats = ember.compile.stats(compiled.train_function.compiled)
    assert stats["traces"] == 1 and stats["fallbacks"] == 0 and stats["cache_hits"] >= 10, stats
    assert eager.train_function.compiled is None
    for i, (a, b) in enumerate(zip(logs_c["steps"], logs_e["steps"])):
        for k in b:
            np.testing.assert_allclose(a[k], b[k], **TOL, err_msg=f"step {i}: {k}")
    for what in ("epochs", "train_on_batch", "evaluate"):
        for k, want in logs_e[what].items():
            np.testing.assert_allclose(logs_c[what][k], want, **TOL, err_msg=f"{what}: {k}")
    got, want = _variables(compiled), _variables(eager)
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_allclose(got[k], want[k], **TOL, err_msg=k)


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_model_compiled_equals_eager(model_name):
    _check(model_name, lambda: keras.optimizers.Adam(0.01))


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[f"{n}-{'-'.join(sorted(k))}" for n, k in OPTIMIZERS])
def test_optimizer_compiled_equals_eager(name, kwargs):
    _check("mlp_bn_dropout", lambda: getattr(keras.optimizers, name)(**kwargs))


def test_learning_rate_changed_by_callbacks_needs_no_retrace():
    # the learning rate is a variable the graph reads: the callbacks' new rates take effect without a retrace
    _check("mlp_bn_dropout", lambda: keras.optimizers.RMSprop(0.01, momentum=0.5), lambda: [
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.02 / (epoch + 1)),
        keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5, min_delta=10.0)])


@pytest.mark.parametrize("make", [lambda: layers.Dropout(0.5), lambda: layers.GaussianNoise(0.5),
                                  lambda: layers.GaussianDropout(0.5)], ids=["Dropout", "GaussianNoise",
                                                                            "GaussianDropout"])
def test_random_layer_in_a_compiled_function_draws_fresh_numbers_each_call(make):
    layer = make()
    f = ember.compile(lambda x: layer(x, training=True))
    x = ember.ones(4, 64)
    outs = [f(x).numpy() for _ in range(4)]  # the first call traces, the others run the graph
    assert ember.compile.stats(f)["cache_hits"] == 3
    assert all(not np.array_equal(a, b) for i, a in enumerate(outs) for b in outs[i + 1:])
    keras.utils.set_random_seed(5)
    compiled = f(x).numpy()
    keras.utils.set_random_seed(5)
    np.testing.assert_array_equal(compiled, layer(x, training=True).numpy())  # seeded: the same numbers


# -- seeded randomness: each row builds a fresh program (its own SeedGenerator / seeded layer) whose draws come
# from its own stream, so the compiled calls must equal the eager calls whatever the global seed is
def _gen_fn(draw):
    gen = keras.random.SeedGenerator(11)
    return (lambda x: draw(x, gen)), gen


def _layer_fn(layer):
    return (lambda x: layer(x, training=True)), layer.seed_generator


SEEDED = {
    "normal-SeedGenerator": lambda: _gen_fn(lambda x, g: x + keras.random.normal(x.shape, 0.5, 2.0, seed=g)),
    "uniform-SeedGenerator": lambda: _gen_fn(lambda x, g: x * keras.random.uniform(x.shape, -1.0, 3.0, seed=g)),
    "two-draws-one-generator": lambda: _gen_fn(lambda x, g: keras.random.uniform(x.shape, seed=g)
                                               - keras.random.normal(x.shape, seed=g)),
    "randint-SeedGenerator": lambda: _gen_fn(lambda x, g: x + keras.random.randint(x.shape, 0, 5, seed=g)),
    "dropout-SeedGenerator": lambda: _gen_fn(lambda x, g: keras.random.dropout(x, 0.4, seed=g)),
    "dropout-noise_shape": lambda: _gen_fn(lambda x, g: keras.random.dropout(x, 0.5, (None, 1, None), seed=g)),
    "shuffle-SeedGenerator": lambda: _gen_fn(lambda x, g: keras.random.shuffle(x, seed=g)),
    "int-seed": lambda: (lambda x: x + keras.random.normal(x.shape, seed=5) * keras.random.uniform((8,), seed=6)
                         + keras.random.dropout(x, 0.5, seed=7), None),
    "Dropout-seed": lambda: _layer_fn(layers.Dropout(0.5, seed=3)),
    "GaussianNoise-seed": lambda: _layer_fn(layers.GaussianNoise(0.3, seed=3)),
    "GaussianDropout-seed": lambda: _layer_fn(layers.GaussianDropout(0.3, seed=3)),
    "SpatialDropout1D-seed": lambda: _layer_fn(layers.SpatialDropout1D(0.5, seed=3)),
    "RandomFlip-seed": lambda: _layer_fn(layers.RandomFlip(seed=3)),
}
IMAGES = {"RandomFlip-seed"}  # rows called on (batch, height, width, channels) images


def _seeded_calls(name, compiled, global_seed):
    fn, gen = SEEDED[name]()
    keras.utils.set_random_seed(global_seed)  # a different global seed per run: the results must not care
    if compiled:
        fn = ember.compile(fn, strict=True)
    shape = (16, 2, 3, 1) if name in IMAGES else (4, 2, 8)
    x = ember.tensor(np.random.default_rng(0).normal(size=shape).astype("float32"))
    outs = [fn(x).numpy() for _ in range(4)]  # the first compiled call traces, the others run the graph
    return outs, (None if gen is None else gen.state.numpy()), fn


@pytest.mark.parametrize("name", sorted(SEEDED))
def test_seeded_draws_compiled_equal_eager(name):
    eager, state_e, _ = _seeded_calls(name, compiled=False, global_seed=0)
    compiled, state_c, fn = _seeded_calls(name, compiled=True, global_seed=99)
    stats = ember.compile.stats(fn)
    assert stats["traces"] == 1 and stats["cache_hits"] == 3 and not stats["graph_breaks"], stats
    for i, (c, e) in enumerate(zip(compiled, eager)):
        np.testing.assert_array_equal(c, e, err_msg=f"{name}: call {i} (compiled vs eager)")
    if state_e is not None:
        np.testing.assert_array_equal(state_c, state_e)  # the generator's counter advanced in the graph too
    fresh = name != "int-seed"
    assert all(np.array_equal(a, b) != fresh for i, a in enumerate(eager) for b in eager[i + 1:]), \
        "a SeedGenerator draws new numbers each call; an int seed the same ones"
