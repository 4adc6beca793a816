"""ember.keras losses against real Keras 3 (torch backend): one row per loss, the same generated
``y_true`` / ``y_pred``, every reduction, with and without ``sample_weight``; gradients for a few; configs and
``serialize`` / ``deserialize`` round trips with Keras's config keys."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

import ember  # noqa: E402
from ember import keras  # noqa: E402

RNG = np.random.default_rng(0)
PROBS = RNG.dirichlet(np.ones(4), size=6).astype("float32")
ONE_HOT = np.eye(4, dtype="float32")[RNG.integers(0, 4, 6)]
BIN_TRUE = RNG.integers(0, 2, (6, 3)).astype("float32")
BIN_PRED = RNG.uniform(0.05, 0.95, (6, 3)).astype("float32")
LOGITS = RNG.normal(size=(6, 3)).astype("float32")
REG_TRUE = RNG.uniform(0, 3, (6, 3)).astype("float32")
REG_PRED = RNG.uniform(0, 3, (6, 3)).astype("float32")
HINGE_PRED = RNG.normal(size=(6, 3)).astype("float32")
LABELS = RNG.integers(0, 4, 6)
EMB = RNG.normal(size=(8, 5)).astype("float32")
EMB /= np.linalg.norm(EMB, axis=1, keepdims=True)
EMB_LABELS = np.array([0, 1, 0, 2, 1, 0, 3, 2])
CTC_TRUE = np.array([[1, 2, 2, 0], [3, 1, 0, 0], [2, 0, 0, 0]])
CTC_PRED = RNG.normal(size=(3, 7, 4)).astype("float32")
WEIGHTS = RNG.uniform(0.2, 2.0, 6).astype("float32")

# (class name, kwargs, y_true, y_pred)
ROWS = [
    ("SquaredHinge", {}, BIN_TRUE, HINGE_PRED),
    ("CategoricalHinge", {}, ONE_HOT, PROBS),
    ("MeanSquaredLogarithmicError", {}, REG_TRUE, REG_PRED),
    ("BinaryFocalCrossentropy", {}, BIN_TRUE, BIN_PRED),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.3, "gamma": 1.5,
                                 "label_smoothing": 0.1}, BIN_TRUE, BIN_PRED),
    ("BinaryFocalCrossentropy", {"from_logits": True}, BIN_TRUE, LOGITS),
    ("CategoricalFocalCrossentropy", {}, ONE_HOT, PROBS),
    ("CategoricalFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.2, "gamma": 3.0}, ONE_HOT,
     PROBS * 3),
    ("Dice", {}, BIN_TRUE, BIN_PRED),
    ("Dice", {"axis": -1}, BIN_TRUE, BIN_PRED),
    ("Tversky", {"alpha": 0.3, "beta": 0.7}, BIN_TRUE, BIN_PRED),
    ("Tversky", {"axis": 1}, BIN_TRUE, BIN_PRED),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.7}, LABELS, PROBS),
    ("Circle", {}, EMB_LABELS, EMB),
    ("Circle", {"gamma": 10.0, "margin": 0.25, "remove_diagonal": False}, EMB_LABELS, EMB),
    ("CTC", {}, CTC_TRUE, CTC_PRED),
]
REDUCTIONS = ["sum_over_batch_size", "sum", "none", "mean_with_sample_weight"]


def _np(x):
    return x.detach().numpy() if isinstance(x, ember.Tensor) else real.ops.convert_to_numpy(x)


@pytest.mark.parametrize("name, kwargs, y_true, y_pred", ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)])
def test_loss_matches_real_keras(name, kwargs, y_true, y_pred):
    per_sample = name not in ("Dice", "Tversky") or "axis" in kwargs
    for reduction in REDUCTIONS:
        ours = getattr(keras.losses, name)(reduction=reduction, **kwargs)
        theirs = getattr(real.losses, name)(reduction=reduction, **kwargs)
        np.testing.assert_allclose(_np(ours(y_true, y_pred)), _np(theirs(y_true, y_pred)), rtol=2e-5, atol=2e-6,
                                   err_msg=f"{name} {reduction}")
        n = len(y_pred)
        if per_sample and name != "Circle":
            w = WEIGHTS[:n] if len(WEIGHTS) >= n else np.resize(WEIGHTS, n)
            np.testing.assert_allclose(_np(ours(y_true, y_pred, sample_weight=w)),
                                       _np(theirs(y_true, y_pred, sample_weight=w)), rtol=2e-5, atol=2e-6,
                                       err_msg=f"{name} {reduction} weighted")
    assert ours.get_config() == theirs.get_config()
    fn = getattr(keras.losses, ours.name, None)
    if fn is not None and callable(fn) and name != "CTC":  # the function form gives the per-sample values
        np.testing.assert_allclose(_np(fn(y_true, y_pred, **kwargs)),
                                   _np(getattr(real.losses, ours.name)(real.ops.convert_to_tensor(y_true),
                                                                       real.ops.convert_to_tensor(y_pred), **kwargs)),
                                   rtol=2e-5, atol=2e-6)


GRAD_ROWS = [r for r in ROWS if r[0] in ("BinaryFocalCrossentropy", "CategoricalFocalCrossentropy", "Circle",
                                          "CTC", "Tversky", "SquaredHinge")]


@pytest.mark.parametrize("name, kwargs, y_true, y_pred", GRAD_ROWS, ids=[f"{r[0]}-{i}" for i, r in
                                                                          enumerate(GRAD_ROWS)])
def test_loss_gradient_matches_real_keras(name, kwargs, y_true, y_pred):
    import torch

    p = ember.tensor(y_pred.copy(), requires_grad=True)
    getattr(keras.losses, name)(**kwargs)(y_true, p).backward()
    tp = torch.tensor(y_pred.copy(), requires_grad=True)
    getattr(real.losses, name)(**kwargs)(y_true, tp).backward()
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_serialize_round_trip_and_string_names():
    for cls_name in ("Dice", "Tversky", "BinaryFocalCrossentropy", "CTC", "SquaredHinge"):
        ours = keras.losses.serialize(getattr(keras.losses, cls_name)())
        theirs = real.losses.serialize(getattr(real.losses, cls_name)())
        assert ours["class_name"] == theirs["class_name"] and ours["config"] == theirs["config"]
        back = keras.losses.deserialize(ours)
        assert type(back).__name__ == cls_name and back.get_config() == ours["config"]
    for name in ("squared_hinge", "categorical_hinge", "msle", "binary_focal_crossentropy", "dice", "tversky"):
        assert callable(keras.losses.get(name))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_focal_crossentropy", metrics=["squared_hinge", "msle"])
    hist = model.fit(BIN_PRED, BIN_TRUE, epochs=1, verbose=0).history
    assert set(hist) == {"loss", "squared_hinge", "msle"}, hist


def test_bad_arguments_name_the_loss():
    with pytest.raises(ValueError, match=r"CategoricalGeneralizedCrossEntropy: q must be .*q=1.5"):
        keras.losses.CategoricalGeneralizedCrossEntropy(q=1.5)
    with pytest.raises(TypeError, match=r"Dice: unexpected argument.*'smooth'"):
        keras.losses.Dice(smooth=1.0)
    with pytest.raises(ValueError, match=r"unknown loss 'dise'.*dice"):
        keras.losses.deserialize("dise")
    with pytest.raises(ValueError, match=r"ctc: y_pred must be \(batch, time, classes\)"):
        keras.losses.ctc(CTC_TRUE, CTC_PRED[0])
