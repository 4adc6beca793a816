"""Found by running keras.io guides unchanged, checked against real Keras 3 (torch backend): the symbolic outputs of
mask-making layers carry `_keras_mask` (understanding_masking_and_padding prints it), and `fit` on a model with no
trainable weights reports its add_loss loss with a warning, and a Model subclass constructed with its own
positional arguments stays a subclassed model (both making_new_layers_and_models_via_subclassing)."""
import os
import warnings

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)

# (layers applied in turn to keras.Input(shape, dtype)) -> the output's symbolic mask shape, or None
CHAINS = {
    "Embedding(mask_zero)": ((None,), "int32", lambda L: [L.Embedding(50, 4, mask_zero=True)]),
    "Embedding -> Activation": ((None,), "int32", lambda L: [L.Embedding(50, 4, mask_zero=True),
                                                             L.Activation("relu")]),
    "Embedding -> LSTM(seq)": ((6,), "int32", lambda L: [L.Embedding(50, 4, mask_zero=True),
                                                         L.LSTM(3, return_sequences=True)]),
    "Embedding -> LSTM": ((6,), "int32", lambda L: [L.Embedding(50, 4, mask_zero=True), L.LSTM(3)]),
    "Masking": ((5, 3), "float32", lambda L: [L.Masking()]),
    "Masking -> GlobalAveragePooling1D": ((5, 3), "float32", lambda L: [L.Masking(),
                                                                        L.GlobalAveragePooling1D()]),
    "Embedding(no mask)": ((None,), "int32", lambda L: [L.Embedding(50, 4)]),
    "Dense": ((3,), "float32", lambda L: [L.Dense(2)]),
}


def _mask_shape(lib, name):
    shape, dtype, chain = CHAINS[name]
    x = lib.Input(shape=shape, dtype=dtype)
    for layer in chain(lib.layers):
        x = layer(x)
    mask = getattr(x, "_keras_mask", None)
    return None if mask is None else (tuple(mask.shape), str(mask.dtype))


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_symbolic_output_mask_like_keras(name):
    assert _mask_shape(keras, name) == _mask_shape(real, name)


class _SumLoss:
    """A weightless layer whose call adds sum(x) as a loss (the guide's ActivityRegularizationLayer shape)."""

    @staticmethod
    def make(lib):
        class SumLoss(lib.layers.Layer):
            def call(self, x):
                self.add_loss(lib.ops.sum(x))
                return x
        return SumLoss()


def test_fit_without_trainable_weights_warns_and_reports_the_loss_like_keras():
    x, y = np.ones((2, 3), "float32"), np.zeros((2, 3), "float32")
    histories = []
    for lib in (real, keras):
        inputs = lib.Input((3,))
        model = lib.Model(inputs, _SumLoss.make(lib)(inputs))
        model.compile(optimizer="adam", loss="mse")
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            histories.append(model.fit(x, y, verbose=0).history["loss"])
        assert any("does not have any trainable weights" in str(w.message) for w in seen), lib.__name__
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-6)


@pytest.mark.parametrize("args", [(4, 8, 2), (4, 8), (4,)])
def test_model_subclass_with_positional_arguments_is_not_functional(args):
    """keras.io's VariationalAutoEncoder(784, 64, 32): its own arguments, not (inputs, outputs)."""
    class VAE(keras.Model):
        def __init__(self, units, hidden=2, latent=3, name="vae", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense = keras.layers.Dense(units)

        def call(self, x):
            return self.dense(x)

    model = VAE(*args)
    assert model.name == "vae" and tuple(model(np.ones((2, 3), "float32")).shape) == (2, args[0])


def test_model_subclass_given_inputs_and_outputs_is_functional():
    class Custom(keras.Model):
        pass

    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(2)(inputs)
    for model in (Custom(inputs, outputs), Custom(inputs=inputs, outputs=outputs)):
        assert type(model) is Custom and len(model.layers) == 2


def test_feature_extraction_over_every_layer_output_like_keras():
    """The functional API guide: `Model(inputs=m.input, outputs=[layer.output for layer in m.layers])`, whose
    first output is the InputLayer's (the input itself)."""
    x = np.random.default_rng(0).random((2, 4)).astype("float32")
    results, weights = [], []
    for lib in (real, keras):
        inputs = lib.Input((4,))
        base = lib.Model(inputs, lib.layers.Dense(2, name="top")(lib.layers.Dense(3, name="mid")(inputs)))
        if weights:
            base.set_weights(weights)  # Ember starts from Keras's weights
        else:
            weights = base.get_weights()
        features = lib.Model(inputs=base.input, outputs=[layer.output for layer in base.layers])
        results.append([_np(t) for t in features(x)])
    assert len(results[1]) == len(results[0]) == 3
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_functional_config_round_trips_a_custom_layer_whose_config_has_no_name():
    """The functional API guide's CustomDense.get_config returns {"units": ...} only (no "name")."""
    class CustomDense(keras.layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")

        def call(self, inputs):
            return keras.ops.matmul(inputs, self.w)

        def get_config(self):
            return {"units": self.units}

    inputs = keras.Input((4,))
    model = keras.Model(inputs, CustomDense(10)(inputs))
    new_model = keras.Model.from_config(model.get_config(), custom_objects={"CustomDense": CustomDense})
    new_model.set_weights(model.get_weights())
    x = np.ones((2, 4), "float32")
    np.testing.assert_allclose(_np(new_model(x)), _np(model(x)))
