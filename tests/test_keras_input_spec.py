"""InputSpec checks, Wrapper and layers.serialize/deserialize against real Keras 3 (torch backend): the same
specs accept and refuse the same inputs; serialize gives Keras's class names and round-trips."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

SPECS = [({"ndim": 3}, (2, 3, 4)), ({"ndim": 3}, (2, 3)), ({"min_ndim": 2}, (2,)), ({"max_ndim": 2}, (1, 2, 3)),
         ({"axes": {-1: 4}}, (2, 4)), ({"axes": {-1: 4}}, (2, 5)), ({"shape": (None, 3)}, (7, 3)),
         ({"shape": (None, 3)}, (7, 2)), ({"dtype": "float32"}, (2, 2))]


def _layer(lib, spec):
    class Checked(lib.layers.Layer):
        def __init__(self):
            super().__init__()
            self.input_spec = lib.layers.InputSpec(**spec)

        def call(self, x):
            return x
    return Checked()


@pytest.mark.parametrize("spec, shape", SPECS, ids=[f"{s}-{sh}" for s, sh in SPECS])
def test_input_spec_accepts_and_refuses_as_keras(spec, shape):
    x = np.ones(shape, "float32")
    outcomes = []
    for lib in (keras, real):
        try:
            _layer(lib, spec)(x)
            outcomes.append("ok")
        except ValueError as exc:
            outcomes.append("refused")
            if lib is keras:
                assert "incompatible" in str(exc) and str(shape) in str(exc)
    assert outcomes[0] == outcomes[1]


def test_serialize_round_trips_and_names_keras_classes():
    for make in (lambda lib: lib.layers.Dense(3, activation="relu"), lambda lib: lib.layers.Conv2D(2, 3),
                 lambda lib: lib.layers.LSTM(4, return_sequences=True)):
        ours, theirs = keras.layers.serialize(make(keras)), real.layers.serialize(make(real))
        assert ours["class_name"] == theirs["class_name"]
        back = keras.layers.deserialize(theirs)
        assert type(back).__name__ == theirs["class_name"]
        assert back.get_config()["name"] == theirs["config"]["name"]


def test_a_custom_wrapper_builds_and_serializes_its_layer():
    class Doubled(keras.layers.Wrapper):
        def call(self, x):
            return self.layer(x) * 2

    w = Doubled(keras.layers.Dense(2, kernel_initializer="ones", use_bias=False))
    out = w(np.ones((1, 3), "float32"))
    assert keras.ops.convert_to_numpy(out).tolist() == [[6.0, 6.0]]
    assert w.get_config()["layer"]["class_name"] == "Dense" and len(w.weights) == 1
    with pytest.raises(ValueError, match="must be a keras Layer"):
        Doubled("dense")
