"""ember.keras metrics against real Keras 3 (torch backend): one row per metric, two ``update_state`` calls
(the second with ``sample_weight``), the result, then ``reset_state`` and one more update; configs against
Keras's; ``serialize`` / ``deserialize``; the function forms; string names in ``compile``."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

import ember  # noqa: E402
from ember import keras  # noqa: E402

RNG = np.random.default_rng(1)


def _batch(kind, n=8):
    if kind == "binary":
        return RNG.integers(0, 2, (n, 3)).astype("float32"), RNG.uniform(0, 1, (n, 3)).astype("float32")
    if kind == "onehot":
        return (np.eye(4, dtype="float32")[RNG.integers(0, 4, n)],
                RNG.dirichlet(np.ones(4), size=n).astype("float32"))
    if kind == "multilabel":
        return RNG.integers(0, 2, (n, 4)).astype("float32"), RNG.uniform(0, 1, (n, 4)).astype("float32")
    if kind == "sparse":
        return RNG.integers(0, 4, (n, 5)), RNG.integers(0, 4, (n, 5))
    if kind == "regression":
        t = RNG.normal(size=(n, 3)).astype("float32")
        return t, (t + 0.5 * RNG.normal(size=(n, 3))).astype("float32")
    if kind == "positive":
        return RNG.uniform(0.1, 3, (n, 3)).astype("float32"), RNG.uniform(0.1, 3, (n, 3)).astype("float32")
    raise ValueError(kind)


ROWS = [
    ("TruePositives", {}, "binary"),
    ("FalsePositives", {"thresholds": [0.2, 0.7]}, "binary"),
    ("TrueNegatives", {"thresholds": 0.3}, "binary"),
    ("FalseNegatives", {}, "binary"),
    ("PrecisionAtRecall", {"recall": 0.6}, "binary"),
    ("RecallAtPrecision", {"precision": 0.4, "num_thresholds": 50}, "binary"),
    ("SensitivityAtSpecificity", {"specificity": 0.5}, "binary"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.5, "class_id": 1}, "binary"),
    ("F1Score", {}, "onehot"),
    ("F1Score", {"average": "macro", "threshold": 0.5}, "multilabel"),
    ("FBetaScore", {"average": "weighted", "beta": 2.0, "threshold": 0.4}, "multilabel"),
    ("FBetaScore", {"average": "micro", "beta": 0.5}, "onehot"),
    ("IoU", {"num_classes": 4, "target_class_ids": [0, 2]}, "sparse"),
    ("MeanIoU", {"num_classes": 4, "ignore_class": 1}, "sparse"),
    ("MeanIoU", {"num_classes": 4, "dtype": "float32"}, "sparse"),
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3}, "binary"),
    ("OneHotIoU", {"num_classes": 4, "target_class_ids": [1, 3]}, "onehot"),
    ("OneHotMeanIoU", {"num_classes": 4}, "onehot"),
    ("R2Score", {}, "regression"),
    ("R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 2}, "regression"),
    ("R2Score", {"class_aggregation": None}, "regression"),
    ("PearsonCorrelation", {}, "regression"),
    ("ConcordanceCorrelation", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("KLDivergence", {}, "onehot"),
    ("LogCoshError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "positive"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("Poisson", {}, "positive"),
    ("Hinge", {}, "binary"),
    ("SquaredHinge", {}, "binary"),
    ("CategoricalHinge", {}, "onehot"),
]


def _res(metric):
    r = metric.result()
    return r.detach().numpy() if isinstance(r, ember.Tensor) else real.ops.convert_to_numpy(r)


@pytest.mark.parametrize("name, kwargs, kind", ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)])
def test_metric_state_matches_real_keras(name, kwargs, kind):
    ours, theirs = getattr(keras.metrics, name)(**kwargs), getattr(real.metrics, name)(**kwargs)
    (t1, p1), (t2, p2), (t3, p3) = _batch(kind), _batch(kind), _batch(kind)
    per_element = kind in ("sparse", "binary") and "IoU" in name  # IoU flattens labels and weights alike
    weights = RNG.integers(1, 4, t2.shape if per_element else len(t2)).astype("float32")
    for m in (ours, theirs):
        m.update_state(t1, p1)
        m.update_state(t2, p2, sample_weight=weights)
    np.testing.assert_allclose(_res(ours), _res(theirs), rtol=2e-5, atol=2e-6, err_msg="after two updates")
    for m in (ours, theirs):
        m.reset_state()
        m.update_state(t3, p3)
    np.testing.assert_allclose(_res(ours), _res(theirs), rtol=2e-5, atol=2e-6, err_msg="after reset")
    unnamed = lambda config: {k: v for k, v in config.items() if k != "name"}  # noqa: E731  (Keras numbers names)
    assert unnamed(ours.get_config()) == unnamed(theirs.get_config())
    assert [v.name for v in ours.variables] == [v.name for v in theirs.variables]


FUNCTIONS = ["mean_squared_error", "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "hinge",
             "squared_hinge", "poisson", "log_cosh", "kl_divergence", "pearson_correlation",
             "concordance_correlation", "binary_crossentropy", "categorical_hinge"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_metric_functions_match_real_keras(name):
    t, p = _batch("positive")
    if "hinge" in name:
        t = (t > 1.5).astype("float32")
    if name == "binary_crossentropy":
        t, p = _batch("binary")
    want = real.ops.convert_to_numpy(getattr(real.metrics, name)(real.ops.convert_to_tensor(t),
                                                                 real.ops.convert_to_tensor(p)))
    np.testing.assert_allclose(getattr(keras.metrics, name)(t, p).detach().numpy(), want, rtol=2e-5, atol=2e-6)


def test_serialize_round_trip_and_compile_by_name():
    # explicit names: Keras numbers the default names of metrics it has already created (``_1``...)
    for make in (lambda lib: lib.metrics.F1Score(average="macro", name="f1"),
                 lambda lib: lib.metrics.MeanIoU(3, name="miou"),
                 lambda lib: lib.metrics.PrecisionAtRecall(0.7, name="p_at_r"),
                 lambda lib: lib.metrics.MeanSquaredError(name="mse")):
        ours, theirs = keras.metrics.serialize(make(keras)), real.metrics.serialize(make(real))
        assert ours["class_name"] == theirs["class_name"] and ours["config"] == theirs["config"]
        back = keras.metrics.deserialize(ours)
        assert isinstance(back, keras.metrics.Metric) and back.get_config() == ours["config"]
    x, y = _batch("regression", 32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse",
                  metrics=["r2_score", "cosine_similarity", "logcosh", "mape", keras.metrics.R2Score(name="r2")])
    hist = model.fit(x, y, epochs=1, batch_size=8, verbose=0).history
    assert set(hist) == {"loss", "r2_score", "cosine_similarity", "logcosh", "mape", "r2"}, hist


def test_bad_arguments_name_the_metric():
    with pytest.raises(ValueError, match=r"FBetaScore: average must be one of .*average='mean'"):
        keras.metrics.FBetaScore(average="mean")
    with pytest.raises(ValueError, match=r"F1Score expects 2D inputs .*y_pred.shape=\(4,\)"):
        keras.metrics.F1Score().update_state(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match=r"PrecisionAtRecall: recall must be in \[0, 1\], got 1.5"):
        keras.metrics.PrecisionAtRecall(1.5)
    with pytest.raises(ValueError, match=r"IoU: target_class_ids \[0, 5\] must be < num_classes=3"):
        keras.metrics.IoU(3, [0, 5])
    with pytest.raises(ValueError, match=r"unknown metric 'r2score'.*r2_score"):
        keras.metrics.get("r2score")
