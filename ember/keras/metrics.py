"""Stateful Keras metrics (``update_state`` / ``result`` / ``reset_state``) on Ember tensors.

A metric's state is Keras variables (float32, like Keras 3) updated with Ember's in-place ops, and its
per-sample values come from Ember ops, so ``update_state`` runs inside a compiled train step (the trainer's
one graph updates the metrics too) and never reads a value back to the host; ``result()`` is a 0-d tensor.

>>> import numpy as np
>>> from ember.keras import metrics
>>> m = metrics.SparseCategoricalAccuracy()
>>> m.update_state(np.array([1, 0]), np.array([[0.1, 0.9], [0.3, 0.7]]))
>>> float(m.result())
0.5
"""

from __future__ import annotations

import re

import numpy as np

import ember
from ember import functional as F
from ember.autograd import no_grad
from ember.errors import did_you_mean

from . import backend as K
from . import losses as L
from .layers.base import Variable


def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _float(x, dtype=None):
    """``x`` as a detached floating tensor (floatx unless ``dtype``)."""
    t = K.convert(x).detach()
    want = ember.dtypes.from_np(np.dtype(dtype or K.floatx()))
    return t if t.dtype == want else t.to(want)


def _same_rank(a, b):
    """Keras's squeeze_or_expand_to_same_rank: drop or add a trailing axis of size 1 so the ranks agree."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        return (a, b.unsqueeze(-1)) if b.ndim == 1 else (a.squeeze(-1), b)
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        return (a.unsqueeze(-1), b) if a.ndim == 1 else (a, b.squeeze(-1))
    return a, b


def _samplewise(values, sample_weight, reduce, dtype):
    """Keras's reduce_to_samplewise_values: weight the values and reduce them to one per sample."""
    values = _float(values, dtype)
    if sample_weight is not None:
        sample_weight = _float(sample_weight, dtype)
        values, sample_weight = _same_rank(values, sample_weight)
        w_nd = sample_weight.ndim
        if values.ndim > w_nd:
            values = reduce(values, tuple(range(w_nd, values.ndim)))
        sample_weight = sample_weight.expand(*values.shape)
        values = values * sample_weight
        if w_nd > 1:
            sample_weight = reduce(sample_weight, tuple(range(1, w_nd)))
    if values.ndim > 1:
        values = reduce(values, tuple(range(1, values.ndim)))
    return values, sample_weight


def _mean(x, axes):
    return x.mean(axes)


def _sum(x, axes):
    return x.sum(axes)


divide_no_nan = L.divide_no_nan


class Metric:
    """Base class: subclasses create state with ``add_variable`` and implement update_state/result."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype or K.floatx()
        self._variables = []

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        from . import initializers

        init = initializers.get(initializer)
        var = Variable(init(tuple(shape), dtype=dtype or self.dtype), name=name or f"var_{len(self._variables)}",
                       trainable=False, dtype=dtype or self.dtype)
        var._initializer = init
        self._variables.append(var)
        return var

    add_weight = add_variable

    @property
    def variables(self):
        return list(self._variables)

    def reset_state(self):
        for v in self._variables:
            v.assign(v._initializer(tuple(v.shape), dtype=v.dtype.name))

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of the values seen: ``total / count``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable(name="total")
        self.count = self.add_variable(name="count")

    def update_state(self, values, sample_weight=None):
        with no_grad():
            values, sample_weight = _samplewise(values, sample_weight, _mean, self.dtype)
            self.total.assign_add(values.sum())
            if sample_weight is not None:
                self.count.assign_add(sample_weight.sum())
            else:
                self.count.assign_add(float(values.shape[0]) if values.ndim else 1.0)

    def result(self):
        return divide_no_nan(self.total.detach(), self.count.detach())


class Sum(Metric):
    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable(name="total")

    def update_state(self, values, sample_weight=None):
        with no_grad():
            values, _ = _samplewise(values, sample_weight, _sum, self.dtype)
            self.total.assign_add(values.sum())

    def result(self):
        return self.total.detach().clone()


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred)`` (a function of tensors returning per-sample values)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name or fn.__name__, dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            values = self._fn(y_true, K.convert(y_pred).detach(), **self._fn_kwargs)
        super().update_state(values, sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}


# -- metric functions (Keras 3's, on tensors) --------------------------------------------------------------
def _squeeze_labels(y_true, y_pred):
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    return y_true


def _equal(a, b):
    return (a == b).to(ember.dtypes.from_np(np.dtype(K.floatx())))


def sparse_categorical_accuracy(y_true, y_pred):
    y_pred = K.convert(y_pred)
    y_true = _squeeze_labels(K.convert(y_true), y_pred)
    return _equal(y_true.to(ember.int64), y_pred.argmax(-1))


def categorical_accuracy(y_true, y_pred):
    return _equal(K.convert(y_true).argmax(-1), K.convert(y_pred).argmax(-1))


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_pred = K.convert(y_pred)
    y_true, y_pred = _same_rank(K.convert(y_true, y_pred.dtype.name), y_pred)
    return _equal(y_true, (y_pred > threshold).to(y_true.dtype))


def accuracy(y_true, y_pred):
    y_pred = K.convert(y_pred)
    y_true, y_pred = _same_rank(K.convert(y_true, y_pred.dtype.name), y_pred)
    return _equal(y_true, y_pred)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the true class is among the ``k`` highest scores (ties count in its favour)."""
    y_pred = K.convert(y_pred)
    labels = _squeeze_labels(K.convert(y_true), y_pred).to(ember.int64)
    target = y_pred.gather(-1, labels.unsqueeze(-1))
    return ((y_pred > target).to(ember.int64).sum(-1) < k).to(ember.dtypes.from_np(np.dtype(K.floatx())))


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    return sparse_top_k_categorical_accuracy(K.convert(y_true).argmax(-1), y_pred, k)


def _wrapper(cls_name, fn, default_name, **defaults):
    def __init__(self, name=default_name, dtype=None, **kwargs):
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **{**defaults, **kwargs})

    return type(cls_name, (MeanMetricWrapper,), {"__init__": __init__, "__module__": __name__})


Accuracy = _wrapper("Accuracy", accuracy, "accuracy")
SparseCategoricalAccuracy = _wrapper(
    "SparseCategoricalAccuracy", sparse_categorical_accuracy, "sparse_categorical_accuracy"
)
CategoricalAccuracy = _wrapper("CategoricalAccuracy", categorical_accuracy, "categorical_accuracy")
BinaryAccuracy = _wrapper("BinaryAccuracy", binary_accuracy, "binary_accuracy", threshold=0.5)
TopKCategoricalAccuracy = _wrapper(
    "TopKCategoricalAccuracy", top_k_categorical_accuracy, "top_k_categorical_accuracy", k=5
)
SparseTopKCategoricalAccuracy = _wrapper(
    "SparseTopKCategoricalAccuracy", sparse_top_k_categorical_accuracy, "sparse_top_k_categorical_accuracy", k=5
)
MeanSquaredError = _wrapper("MeanSquaredError", L.mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", L.mean_absolute_error, "mean_absolute_error")
BinaryCrossentropy = _wrapper("BinaryCrossentropy", L.binary_crossentropy, "binary_crossentropy")
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", L.categorical_crossentropy, "categorical_crossentropy")
SparseCategoricalCrossentropy = _wrapper(
    "SparseCategoricalCrossentropy", L.sparse_categorical_crossentropy, "sparse_categorical_crossentropy"
)


class RootMeanSquaredError(Mean):
    """``sqrt`` of the running mean of squared errors."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            y_pred = _float(y_pred)
            y_true, y_pred = _same_rank(_float(y_true), y_pred)
            super().update_state(F.square(y_pred - y_true), sample_weight)

    def result(self):
        return F.sqrt(super().result())


def _sample_weights(sample_weight, like):
    """Per-element weights broadcast to ``like`` (trailing dims added), or None."""
    if sample_weight is None:
        return None
    w = _float(sample_weight)
    while w.ndim < like.ndim:
        w = w.unsqueeze(-1)
    return w.expand(*like.shape)


class _Confusion(Metric):
    """True/false positives/negatives at one threshold (Precision, Recall)."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.thresholds = 0.5 if thresholds is None else thresholds
        for n in ("true_positives", "false_positives", "false_negatives"):
            setattr(self, n, self.add_variable(name=n))

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            pred = (_float(y_pred) > self.thresholds).to(ember.float32)
            true = (_float(y_true).reshape(*pred.shape) > 0.5).to(ember.float32)
            w = _sample_weights(sample_weight, pred)
            if w is not None:
                pred, true_w = pred * w, true * w
            else:
                true_w = true
            self.true_positives.assign_add((pred * true).sum())
            self.false_positives.assign_add((pred * (1.0 - true)).sum())
            self.false_negatives.assign_add(true_w.sum() - (pred * true).sum())

    def get_config(self):
        return {**super().get_config(), "thresholds": self.thresholds}


class Precision(_Confusion):
    def result(self):
        tp, fp = self.true_positives.detach(), self.false_positives.detach()
        return divide_no_nan(tp, tp + fp)


class Recall(_Confusion):
    def result(self):
        tp, fn = self.true_positives.detach(), self.false_negatives.detach()
        return divide_no_nan(tp, tp + fn)


class AUC(Metric):
    """Area under the ROC (or PR) curve from confusion counts at ``num_thresholds`` thresholds."""

    def __init__(self, num_thresholds=200, curve="ROC", name=None, dtype=None, from_logits=False):
        super().__init__(name or "auc", dtype)
        self.num_thresholds, self.curve, self.from_logits = num_thresholds, curve.upper(), from_logits
        eps = 1e-7
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self._thresholds = np.array([0.0 - eps] + inner + [1.0 + eps], dtype="float32")
        for n in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, n, self.add_variable((num_thresholds,), name=n))

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            p = _float(y_pred).reshape(-1)
            if self.from_logits:
                p = F.sigmoid(p)
            t = (_float(y_true).reshape(-1) > 0.5).to(ember.float32)
            w = p.new_ones(p.shape) if sample_weight is None else _float(sample_weight).reshape(-1)
            if w.shape[0] != p.shape[0]:  # one weight per sample, repeated over that sample's outputs
                w = w.unsqueeze(-1).expand(w.shape[0], p.shape[0] // max(w.shape[0], 1)).reshape(-1)
            above = (p.unsqueeze(0) > K.convert(self._thresholds).unsqueeze(-1)).to(ember.float32)
            pos, neg = t * w, (1.0 - t) * w
            tp, fp = above @ pos, above @ neg
            self.true_positives.assign_add(tp)
            self.false_positives.assign_add(fp)
            self.false_negatives.assign_add(pos.sum() - tp)
            self.true_negatives.assign_add(neg.sum() - fp)

    def result(self):
        tp, fp = self.true_positives.detach(), self.false_positives.detach()
        tn, fn = self.true_negatives.detach(), self.false_negatives.detach()
        if self.curve == "PR":
            return _interpolated_pr_auc(tp, fp, fn)
        x, y = divide_no_nan(fp, fp + tn), divide_no_nan(tp, tp + fn)
        return ((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2.0).sum()

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                "from_logits": self.from_logits}


def _interpolated_pr_auc(tp, fp, fn):
    """Keras's PR-AUC: precision interpolated linearly in the number of positives between thresholds (Davis &
    Goadrich, 2006)."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = divide_no_nan(dtp, F.clamp(dp, min=0.0))
    intercept = tp[1:] - slope * p[1:]
    both = F.logical_and(p[:-1] > 0, p[1:] > 0)
    ratio = F.where(both, divide_no_nan(p[:-1], F.clamp(p[1:], min=0.0)), ember.ones_like(p[1:]))
    increment = divide_no_nan(slope * (dtp + intercept * F.log(ratio)), F.clamp(tp[1:] + fn[1:], min=0.0))
    return increment.sum()


from . import metrics_extra as _extra  # noqa: E402  (the rest of Keras's metrics; imports the helpers above)
from .losses import (  # noqa: E402,F401  (Keras's metrics module exports these loss functions too)
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from .metrics_extra import (  # noqa: E402,F401
    BinaryIoU,
    F1Score,
    FalseNegatives,
    FalsePositives,
    FBetaScore,
    IoU,
    MeanIoU,
    OneHotIoU,
    OneHotMeanIoU,
    PrecisionAtRecall,
    R2Score,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    TrueNegatives,
    TruePositives,
    concordance_correlation,
    pearson_correlation,
)


def _mean_class(cls_name, fn, default_name, defaults):
    """A MeanMetricWrapper class whose config carries its keyword arguments where Keras's does."""
    cls = _wrapper(cls_name, fn, default_name, **defaults)
    if cls_name == "CosineSimilarity":  # Keras's config leaves its axis out
        cls.get_config = lambda self: {"name": self.name, "dtype": self.dtype}
    return cls


CosineSimilarity, KLDivergence, LogCoshError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError = (
    _mean_class(n, *_extra.MEAN_FUNCTIONS[n]) for n in (
        "CosineSimilarity", "KLDivergence", "LogCoshError", "MeanAbsolutePercentageError",
        "MeanSquaredLogarithmicError"))
Poisson, Hinge, SquaredHinge, CategoricalHinge, PearsonCorrelation, ConcordanceCorrelation = (
    _mean_class(n, *_extra.MEAN_FUNCTIONS[n]) for n in (
        "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge", "PearsonCorrelation", "ConcordanceCorrelation"))
_EXTRA = (CosineSimilarity, KLDivergence, LogCoshError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
          Poisson, Hinge, SquaredHinge, CategoricalHinge, PearsonCorrelation, ConcordanceCorrelation, BinaryIoU,
          F1Score, FalseNegatives, FalsePositives, FBetaScore, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU,
          PrecisionAtRecall, R2Score, RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity,
          TrueNegatives, TruePositives)

ALL = {
    c.__name__: c
    for c in (Mean, Sum, Accuracy, SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy,
              TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
              RootMeanSquaredError, Precision, Recall, AUC, BinaryCrossentropy, CategoricalCrossentropy,
              SparseCategoricalCrossentropy)
}
ALL.update({c.__name__: c for c in _EXTRA})
_ALIASES = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "auc": AUC,
    "precision": Precision,
    "recall": Recall,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "root_mean_squared_error": RootMeanSquaredError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "cosine_similarity": CosineSimilarity,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "logcosh": LogCoshError,
    "log_cosh": LogCoshError,
    "poisson": Poisson,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge,
    "pearson_correlation": PearsonCorrelation,
    "concordance_correlation": ConcordanceCorrelation,
    "r2_score": R2Score,
    "true_positives": TruePositives,
    "false_positives": FalsePositives,
    "true_negatives": TrueNegatives,
    "false_negatives": FalseNegatives,
}


def get(identifier, y_true=None, y_pred=None, loss=None):
    """A Metric from a name/instance/function; ``'accuracy'`` picks the variant matching the loss and
    shapes (binary, categorical or sparse categorical) and keeps the name ``accuracy``."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return _accuracy_for(identifier, y_true, y_pred, loss)
        cls = _ALIASES.get(identifier) or ALL.get(identifier)
        if cls is None:
            raise ValueError(f"unknown metric {identifier!r}{did_you_mean(identifier, {**_ALIASES, **ALL})}; "
                             f"known: accuracy, {', '.join(sorted(_ALIASES))}")
        return cls(name=identifier) if identifier in _ALIASES else cls()
    if isinstance(identifier, dict):
        from .saving import deserialize_keras_object

        return deserialize_keras_object(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", "metric"))
    raise ValueError(f"could not interpret metric {identifier!r}")


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def _accuracy_for(name, y_true, y_pred, loss):
    loss_name = getattr(loss, "name", None) or getattr(loss, "__name__", "") or ""
    pred_shape = _shape(y_pred) if y_pred is not None else ()
    true_shape = _shape(y_true) if y_true is not None else ()
    if "binary" in loss_name or (pred_shape and pred_shape[-1] == 1):
        return BinaryAccuracy(name=name)
    if "sparse" in loss_name or (
        pred_shape and (len(true_shape) < len(pred_shape) or true_shape[-1:] == (1,))
    ):
        return SparseCategoricalAccuracy(name=name)
    if "categorical" in loss_name or (pred_shape and true_shape == pred_shape):
        return CategoricalAccuracy(name=name)
    return Accuracy(name=name)


def serialize(metric):
    """Keras's serialized form of a metric (``{"module", "class_name", "config", "registered_name"}``)."""
    from .saving import serialize_keras_object

    return serialize_keras_object(metric)


def deserialize(config, custom_objects=None):
    """The metric described by ``config`` (from ``serialize``); metric classes win over the loss classes of
    the same name (``MeanSquaredError``)."""
    from .saving import deserialize_keras_object

    if isinstance(config, str):
        return get(config)
    return deserialize_keras_object(config, {**ALL, **(custom_objects or {})})
