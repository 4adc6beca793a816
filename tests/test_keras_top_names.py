"""Keras 3's top-level names, scopes, ``utils.Config``, ``OrthogonalRegularizer``, the application and
optimizer submodules users import by path, and ``with ember.device(...)``: each against real Keras 3 / torch."""

import copy
import importlib
import json
import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")

import ember  # noqa: E402
from ember import keras  # noqa: E402

TOP_NAMES = ["DTypePolicy", "FloatDTypePolicy", "Initializer", "InputSpec", "KerasTensor", "Loss", "Metric",
             "Optimizer", "Regularizer", "device", "name_scope", "version"]


@pytest.mark.parametrize("name", TOP_NAMES)
def test_top_level_name_exists_like_keras(name):
    assert hasattr(real, name) and hasattr(keras, name)


@pytest.mark.parametrize("module", ["optimizers.schedules", "applications.resnet50", "applications.vgg19",
                                    "applications.imagenet_utils", "datasets.california_housing"])
def test_submodule_imports_by_path(module):
    ours = importlib.import_module(f"ember.keras.{module}")
    theirs = importlib.import_module(f"keras.{module}")
    public = {n for n in dir(theirs) if not n.startswith("_")}
    assert public <= set(dir(ours)), sorted(public - set(dir(ours)))


def test_top_level_classes_are_the_bases():
    assert issubclass(keras.losses.MeanSquaredError, keras.Loss)
    assert issubclass(keras.metrics.Mean, keras.Metric)
    assert issubclass(keras.optimizers.Adam, keras.Optimizer)
    assert isinstance(keras.regularizers.L2(), keras.Regularizer)
    assert isinstance(keras.Input((3,)), keras.KerasTensor)


def _paths(lib, scopes):
    def build():
        layer = lib.layers.Dense(2, name="dense_x")
        layer.build((None, 3))
        return [w.path for w in layer.weights] + [lib.Variable(np.zeros(2, "float32"), name="v").path]

    managers = [lib.name_scope(s) for s in scopes]
    for m in managers:
        m.__enter__()
    try:
        return build()
    finally:
        for m in reversed(managers):
            m.__exit__(None, None, None)


@pytest.mark.parametrize("scopes", [[], ["outer"], ["outer", "inner"], ["same", "same"]])
def test_name_scope_paths_match_keras(scopes):
    assert _paths(keras, scopes) == _paths(real, scopes)


def test_name_scope_deduplicates_only_the_same_caller():
    def path(lib, second_caller):
        owner = object()
        with lib.name_scope("blk", caller=owner), lib.name_scope("blk", caller=second_caller or owner):
            return lib.Variable(np.zeros(1, "float32"), name="w").path

    for other in (None, object()):
        assert path(keras, other) == path(real, other)
    assert path(keras, None) == "blk/w"


def test_keras_device_scope_and_bad_name():
    with keras.device("cpu"):
        assert str(keras.ops.ones(2).device) == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        keras.device("tpu")


def test_ember_device_is_a_context_manager_like_torch():
    torch = pytest.importorskip("torch")
    with torch.device("cpu"):
        want = str(torch.zeros(1).device)
    with ember.device("cpu") as dev:
        assert dev == ember.device("cpu")
        assert str(ember.zeros(1).device) == want and str(ember.nn.Linear(2, 2).weight.device) == want
    assert ember.get_default_device() == ember.device("cpu")
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device") as info:
            with ember.device("cuda"):
                pass
        assert "test_keras_top_names.py" in str(info.value)
        assert ember.get_default_device() == ember.device("cpu")  # a refused block changes nothing


def _config_ops(lib):
    c = lib.utils.Config(a=1, b="x")
    c.c = 3
    c["d"] = [4]
    seen = [repr(c), c.as_dict(), json.loads(c.to_json()), len(c), list(c), "a" in c, c.get("zz", 9), c.a, c["d"]]
    c.freeze()
    for mutate in (lambda: setattr(c, "e", 1), lambda: c.__setitem__("e", 1), lambda: c.pop("a"),
                   lambda: c.update(a=2)):
        with pytest.raises(ValueError):
            mutate()
    seen.append(c.frozen)
    c.unfreeze()
    c.update(a=5)
    seen += [c.a, c.pop("b"), c.frozen, sorted(c.keys())]
    with pytest.raises(AttributeError):
        _ = c.missing
    return seen


def test_config_behaves_like_keras():
    ours, theirs = _config_ops(keras), _config_ops(real)
    assert ours[1:] == theirs[1:] and ours[0].replace("'", '"') == theirs[0].replace("'", '"')
    frozen = keras.utils.Config(a=[1])
    frozen.freeze()
    twin = copy.deepcopy(frozen)
    assert twin.frozen and twin.a == [1] and twin.a is not frozen.a


@pytest.mark.parametrize("mode", ["rows", "columns"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 2), (6, 1)])
def test_orthogonal_regularizer_matches_keras(mode, shape):
    w = np.random.default_rng(sum(shape)).standard_normal(shape).astype("float32")
    if shape[0 if mode == "rows" else 1] < 2:  # one vector has no pairs: Keras divides 0 by 0, Ember gives 0
        assert float(keras.regularizers.OrthogonalRegularizer(0.3, mode)(ember.tensor(w))) == 0.0
        return
    want = float(real.regularizers.OrthogonalRegularizer(0.3, mode)(real.ops.convert_to_tensor(w)))
    got = float(keras.regularizers.OrthogonalRegularizer(0.3, mode)(ember.tensor(w)))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_orthogonal_regularizer_trains_and_round_trips():
    reg = keras.regularizers.get("orthogonal_regularizer")
    assert isinstance(reg, keras.regularizers.OrthogonalRegularizer) and reg.factor == 0.01
    again = keras.regularizers.deserialize(keras.regularizers.serialize(keras.regularizers.OrthogonalRegularizer(
        0.2, "columns")))
    assert again.get_config() == {"factor": 0.2, "mode": "columns"}
    from_keras = keras.regularizers.deserialize(real.regularizers.serialize(real.regularizers.L1L2(0.1, 0.2)))
    np.testing.assert_allclose([from_keras.l1, from_keras.l2], [0.1, 0.2], rtol=1e-6)
    layer = keras.layers.Dense(3, kernel_regularizer=again)
    layer(np.ones((2, 4), "float32"))
    assert len(layer.losses) == 1 and float(layer.losses[0]) > 0
    with pytest.raises(ValueError, match="must be 2-D"):
        again(ember.ones(2, 3, 4))
    with pytest.raises(ValueError, match="'rows' or 'columns'"):
        keras.regularizers.OrthogonalRegularizer(0.1, "diagonal")


def test_decode_predictions_reads_the_cached_class_index(tmp_path, monkeypatch):
    from ember.keras.applications import imagenet_utils

    table = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "imagenet_class_index.json").write_text(json.dumps(table))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_MD5", None)  # the fixture is not the real file
    monkeypatch.setattr(imagenet_utils, "_CLASS_INDEX", [])
    scores = np.zeros((2, 1000), "float32")
    scores[0, [7, 3]] = [0.9, 0.5]
    scores[1, 999] = 1.0
    got = keras.applications.resnet50.decode_predictions(scores, top=2)
    assert [row[0][:2] for row in got] == [("n00000007", "class_7"), ("n00000999", "class_999")]
    assert got[0][1][:2] == ("n00000003", "class_3") and got[0][0][2] == pytest.approx(0.9)
    with pytest.raises(ValueError, match=r"\(samples, 1000\)"):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))
