"""``model.to_json()`` / ``models.model_from_json`` in Keras 3's own format, checked against real Keras 3 in
both directions (same weights through get/set_weights -> same outputs), and custom-object registration."""

import json
import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

RNG = np.random.default_rng(0)


def conv_stack(k):
    L = k.layers
    return k.Sequential(
        [k.Input((8, 8, 3)), L.Conv2D(4, 3, activation="relu", padding="same"), L.BatchNormalization(),
         L.MaxPooling2D(), L.Conv2D(2, 3, strides=1), L.Flatten(), L.Dense(5, activation="tanh"),
         L.Dropout(0.2), L.LayerNormalization(), L.Dense(3, activation="softmax")]
    )


def text_and_features(k):
    L = k.layers
    tokens, feats = k.Input((6,), name="tokens", dtype="int32"), k.Input((4,), name="feats")
    emb = L.Embedding(20, 5)(tokens)
    seq = L.GlobalAveragePooling1D()(L.GRU(3, return_sequences=True)(emb))
    mixed = L.Add()([L.LSTM(7)(emb), L.Dense(7)(feats)])
    shared = L.Dense(4, activation="relu")  # called twice: node indices 0 and 1
    both = L.Concatenate()([shared(L.Concatenate()([mixed, seq])), shared(L.Dense(10)(feats))])
    return k.Model([tokens, feats], [L.Dense(2, name="head")(both), L.Dense(1, activation="sigmoid")(both)])


def single_in_dict_out(k):
    L = k.layers
    x = k.Input((5,), name="x")
    h = L.Dense(6, activation="gelu", kernel_regularizer=k.regularizers.L2(0.01))(x)
    return k.Model(x, {"a": L.Dense(2, name="a")(h), "b": L.Activation("softmax", name="b")(h)})


def data(name):
    if name == "text_and_features":
        return [RNG.integers(0, 20, (3, 6)).astype("int32"), RNG.random((3, 4), dtype="float32")]
    return RNG.random((3, 8, 8, 3) if name == "conv_stack" else (3, 5), dtype="float32")


def _outputs(model, x):
    out = model(x, training=False)
    if isinstance(out, dict):
        return [np.asarray(real.ops.convert_to_numpy(out[k])) for k in sorted(out)]
    out = out if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(real.ops.convert_to_numpy(o)) if not hasattr(o, "numpy") or hasattr(o, "detach")
            else o.numpy() for o in out]


def _np(t):
    if hasattr(t, "detach"):
        return t.detach().cpu().numpy()
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def _run(model, x):
    out = model(x, training=False)
    if isinstance(out, dict):
        return [_np(out[k]) for k in sorted(out)]
    return [_np(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


BUILDERS = [conv_stack, text_and_features, single_in_dict_out]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("writer,reader", [(keras, real), (real, keras), (keras, keras)],
                         ids=["ember->keras", "keras->ember", "ember->ember"])
def test_json_round_trip_same_outputs(build, writer, reader):
    source = build(writer)
    rebuilt = reader.models.model_from_json(source.to_json())
    names = lambda m: sorted((layer.name, type(layer).__name__) for layer in m.layers)  # noqa: E731
    assert names(rebuilt) == names(source)
    for layer in source.layers:  # by name: a functional model's layer order is each library's own
        rebuilt.get_layer(layer.name).set_weights([np.asarray(w) for w in layer.get_weights()])
    x = data(build.__name__)
    for got, want in zip(_run(rebuilt, x), _run(source, x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_to_json_matches_keras_layout(build):
    ours, theirs = json.loads(build(keras).to_json()), json.loads(build(real).to_json())
    assert (ours["class_name"], ours["module"]) == (theirs["class_name"], theirs["module"])
    layers = lambda c: [(s["class_name"], s["module"], s["registered_name"]) for s in c["config"]["layers"]]  # noqa: E731
    assert sorted(layers(ours)) == sorted(layers(theirs))
    if "input_layers" in theirs["config"]:
        shape = lambda v: json.dumps(v).count("[")  # noqa: E731  (single ref vs list of refs vs dict)
        assert shape(ours["config"]["input_layers"]) == shape(theirs["config"]["input_layers"])
        assert type(ours["config"]["output_layers"]) is type(theirs["config"]["output_layers"])


def test_weights_order_and_layer_names_match_keras():
    ours, theirs = conv_stack(keras), conv_stack(real)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    strip = lambda n: n.rsplit("_", 1)[0] if n.rsplit("_", 1)[-1].isdigit() else n  # noqa: E731
    assert [strip(layer.name) for layer in ours.layers] == [strip(layer.name) for layer in theirs.layers]


def _scale_layer(lib, package):
    @lib.saving.register_keras_serializable(package=package)
    class Scale(lib.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    return Scale


def test_registered_custom_layer_crosses_both_ways():
    ours, theirs = _scale_layer(keras, "wp15"), _scale_layer(real, "wp15")
    assert keras.saving.get_custom_objects()["wp15>Scale"] is ours
    model = keras.Sequential([keras.Input((3,)), ours(3.0), keras.layers.Dense(2)])
    config = json.loads(model.to_json())
    assert config["config"]["layers"][1]["registered_name"] == "wp15>Scale"
    x = RNG.random((2, 3), dtype="float32")
    for reader, writer_model in ((real, model), (keras, real.Sequential([real.Input((3,)), theirs(3.0),
                                                                          real.layers.Dense(2)]))):
        rebuilt = reader.models.model_from_json(writer_model.to_json())
        assert rebuilt.layers[0].factor == 3.0
        rebuilt.set_weights([np.asarray(w) for w in writer_model.get_weights()])
        np.testing.assert_allclose(_run(rebuilt, x)[0], _run(writer_model, x)[0], rtol=1e-6)


class Doubler(keras.layers.Layer):  # deliberately not registered
    def call(self, x):
        return 2 * x


def test_unregistered_custom_layer_error_names_class_and_fix():
    text = keras.Sequential([keras.Input((3,)), Doubler()]).to_json()
    with pytest.raises(TypeError, match=r"Doubler.*register_keras_serializable.*custom_objects"):
        keras.models.model_from_json(text)
    for load in (
        lambda: keras.models.model_from_json(text, custom_objects={"Doubler": Doubler}),
        lambda: _in_scope(keras.saving.custom_object_scope, text),
        lambda: _in_scope(keras.utils.custom_object_scope, text),
    ):
        assert isinstance(load().layers[0], Doubler)
    with pytest.raises(TypeError, match="Doubler"):  # the scope is closed again
        keras.models.model_from_json(text)


def _in_scope(scope, text):
    with scope({"Doubler": Doubler}):
        return keras.models.model_from_json(text)


def test_get_custom_objects_is_the_live_table():
    keras.saving.get_custom_objects()["MyDoubler"] = Doubler
    try:
        text = keras.Sequential([keras.Input((3,)), Doubler()]).to_json().replace('"Doubler"', '"MyDoubler"')
        assert isinstance(keras.models.model_from_json(text).layers[0], Doubler)
    finally:
        del keras.saving.get_custom_objects()["MyDoubler"]


def test_keras_option_ember_lacks_is_refused_by_name():
    text = real.Sequential([real.Input((8,)), real.layers.Dense(4, lora_rank=2)]).to_json()
    with pytest.raises(ValueError, match=r"Dense has no option 'lora_rank'.*2"):
        keras.models.model_from_json(text)
    with pytest.raises(ValueError, match="not valid JSON"):
        keras.models.model_from_json("{nope")
