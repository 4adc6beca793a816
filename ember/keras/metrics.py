"""Stateful Keras metrics (``update_state`` / ``result`` / ``reset_state``). Built-in metrics update on
arrays (no autograd); custom ``Metric`` subclasses may use ``keras.ops`` and ``add_variable``.

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

from . import backend as K
from . import losses as L
from .layers.base import Variable


def _np(x):
    return K.to_numpy(x)


def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Metric:
    """Base class: subclasses create state with ``add_variable`` and implement update_state/result."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype or K.floatx()
        self._variables = []

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        from . import initializers

        init = initializers.get(initializer)
        var = Variable(
            init(tuple(shape), dtype=dtype or self.dtype),
            name=name or f"var_{len(self._variables)}",
            trainable=False,
            dtype=dtype or self.dtype,
        )
        var._initializer = init
        self._variables.append(var)
        return var

    add_weight = add_variable

    @property
    def variables(self):
        return list(self._variables)

    def reset_state(self):
        for v in self._variables:
            v.assign(v._initializer(tuple(v.shape), dtype=v._data.dtype))

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
    """The (weighted) mean of the values seen."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable(name="total", dtype="float64")
        self.count = self.add_variable(name="count", dtype="float64")

    def update_state(self, values, sample_weight=None):
        v = np.asarray(_np(values), dtype=np.float64)
        if sample_weight is None:
            self.total._data += v.sum()
            self.count._data += v.size
            return
        w = np.broadcast_to(
            np.asarray(_np(sample_weight), np.float64).reshape(
                np.shape(_np(sample_weight)) + (1,) * max(v.ndim - np.ndim(_np(sample_weight)), 0)
            ),
            v.shape,
        )
        self.total._data += (v * w).sum()
        self.count._data += w.sum()

    def result(self):
        c = float(self.count._data)
        return np.float32(float(self.total._data) / c if c else 0.0)


class Sum(Metric):
    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable(name="total", dtype="float64")

    def update_state(self, values, sample_weight=None):
        v = np.asarray(_np(values), np.float64)
        self.total._data += (v if sample_weight is None else v * _np(sample_weight)).sum()

    def result(self):
        return np.float32(self.total._data)


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred)`` (a function of NumPy arrays or of tensors)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name or fn.__name__, dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(_np(y_true), _np(y_pred), **self._fn_kwargs)
        super().update_state(_np(values), sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}


# -- NumPy metric functions --------------------------------------------------------------------------------
def _squeeze_labels(y_true, y_pred):
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return y_true


def sparse_categorical_accuracy(y_true, y_pred):
    y_pred = np.asarray(y_pred)
    return (_squeeze_labels(y_true, y_pred) == y_pred.argmax(-1)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    return (np.asarray(y_true).argmax(-1) == np.asarray(y_pred).argmax(-1)).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).reshape(y_pred.shape) if np.size(y_true) == y_pred.size else y_true
    return ((y_pred > threshold) == (np.asarray(y_true) > 0.5)).astype(np.float32).mean(-1)


def accuracy(y_true, y_pred):
    y_pred = np.asarray(y_pred)
    return (np.asarray(y_true).reshape(y_pred.shape) == y_pred).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    return sparse_top_k_categorical_accuracy(np.asarray(y_true).argmax(-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_pred = np.asarray(y_pred)
    labels = _squeeze_labels(y_true, y_pred).astype(np.int64)
    target = np.take_along_axis(y_pred, labels[..., None], -1)
    return ((y_pred > target).sum(-1) < k).astype(np.float32)


def _loss_fn(fn):
    def metric_fn(y_true, y_pred, **kwargs):
        return _np(fn(y_true, K.convert(np.asarray(y_pred)), **kwargs))

    metric_fn.__name__ = fn.__name__
    return metric_fn


def _wrapper(cls_name, fn, default_name, **defaults):
    def __init__(self, name=default_name, dtype=None, **kwargs):
        params = {**defaults, **kwargs}
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **params)

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
    "SparseTopKCategoricalAccuracy",
    sparse_top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy",
    k=5,
)
MeanSquaredError = _wrapper("MeanSquaredError", _loss_fn(L.mean_squared_error), "mean_squared_error")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", _loss_fn(L.mean_absolute_error), "mean_absolute_error")
BinaryCrossentropy = _wrapper("BinaryCrossentropy", _loss_fn(L.binary_crossentropy), "binary_crossentropy")
CategoricalCrossentropy = _wrapper(
    "CategoricalCrossentropy", _loss_fn(L.categorical_crossentropy), "categorical_crossentropy"
)
SparseCategoricalCrossentropy = _wrapper(
    "SparseCategoricalCrossentropy",
    _loss_fn(L.sparse_categorical_crossentropy),
    "sparse_categorical_crossentropy",
)


class RootMeanSquaredError(Mean):
    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(_np(L.mean_squared_error(y_true, K.convert(_np(y_pred)))), sample_weight)

    def result(self):
        return np.float32(np.sqrt(super().result()))


class _Confusion(Metric):
    """True/false positives/negatives at one threshold (Precision, Recall)."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.thresholds = 0.5 if thresholds is None else thresholds
        for n in ("true_positives", "false_positives", "false_negatives"):
            setattr(self, n, self.add_variable(name=n, dtype="float64"))

    def update_state(self, y_true, y_pred, sample_weight=None):
        pred = np.asarray(_np(y_pred)) > self.thresholds
        true = np.asarray(_np(y_true)).reshape(pred.shape) > 0.5
        w = (
            1.0
            if sample_weight is None
            else np.asarray(_np(sample_weight), np.float64).reshape(
                np.shape(_np(sample_weight)) + (1,) * (pred.ndim - np.ndim(_np(sample_weight)))
            )
        )
        self.true_positives._data += np.sum((pred & true) * w)
        self.false_positives._data += np.sum((pred & ~true) * w)
        self.false_negatives._data += np.sum((~pred & true) * w)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.thresholds}


class Precision(_Confusion):
    def result(self):
        tp, fp = float(self.true_positives._data), float(self.false_positives._data)
        return np.float32(tp / (tp + fp) if tp + fp else 0.0)


class Recall(_Confusion):
    def result(self):
        tp, fn = float(self.true_positives._data), float(self.false_negatives._data)
        return np.float32(tp / (tp + fn) if tp + fn else 0.0)


class AUC(Metric):
    """Area under the ROC (or PR) curve from confusion counts at ``num_thresholds`` thresholds."""

    def __init__(self, num_thresholds=200, curve="ROC", name=None, dtype=None, from_logits=False):
        super().__init__(name or "auc", dtype)
        self.num_thresholds, self.curve, self.from_logits = num_thresholds, curve.upper(), from_logits
        eps = 1e-7
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self._thresholds = np.array([0.0 - eps] + inner + [1.0 + eps])
        for n in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, n, self.add_variable((num_thresholds,), name=n, dtype="float64"))

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = np.asarray(_np(y_pred), np.float64).reshape(-1)
        if self.from_logits:
            p = 1.0 / (1.0 + np.exp(-p))
        t = np.asarray(_np(y_true)).reshape(-1) > 0.5
        if sample_weight is None:
            w = np.ones_like(p)
        else:  # one weight per sample, repeated over that sample's outputs
            sw = np.asarray(_np(sample_weight), np.float64).reshape(-1)
            w = np.repeat(sw, len(p) // max(len(sw), 1))
        above = p[None, :] > self._thresholds[:, None]
        self.true_positives._data += (above & t) @ w
        self.false_positives._data += (above & ~t) @ w
        self.false_negatives._data += (~above & t) @ w
        self.true_negatives._data += (~above & ~t) @ w

    def result(self):
        tp, fp = self.true_positives._data, self.false_positives._data
        tn, fn = self.true_negatives._data, self.false_negatives._data
        if self.curve == "PR":
            x = tp / np.maximum(tp + fn, 1e-12)
            y = tp / np.maximum(tp + fp, 1e-12)
        else:
            x = fp / np.maximum(fp + tn, 1e-12)
            y = tp / np.maximum(tp + fn, 1e-12)
        return np.float32(np.sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2.0))

    def get_config(self):
        return {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "from_logits": self.from_logits,
        }


ALL = {
    c.__name__: c
    for c in (
        Mean,
        Sum,
        Accuracy,
        SparseCategoricalAccuracy,
        CategoricalAccuracy,
        BinaryAccuracy,
        TopKCategoricalAccuracy,
        SparseTopKCategoricalAccuracy,
        MeanSquaredError,
        MeanAbsoluteError,
        RootMeanSquaredError,
        Precision,
        Recall,
        AUC,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
    )
}
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
            raise ValueError(f"unknown metric {identifier!r}; known: accuracy, {', '.join(sorted(_ALIASES))}")
        return cls(name=identifier) if identifier in _ALIASES else cls()
    if isinstance(identifier, dict):
        from .saving import deserialize_keras_object

        return deserialize_keras_object(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", "metric"))
    raise ValueError(f"could not interpret metric {identifier!r}")


def _accuracy_for(name, y_true, y_pred, loss):
    loss_name = getattr(loss, "name", None) or getattr(loss, "__name__", "") or ""
    pred_shape = tuple(np.shape(y_pred)) if y_pred is not None else ()
    true_shape = tuple(np.shape(y_true)) if y_true is not None else ()
    if "binary" in loss_name or (pred_shape and pred_shape[-1] == 1):
        return BinaryAccuracy(name=name)
    if "sparse" in loss_name or (
        pred_shape and (len(true_shape) < len(pred_shape) or true_shape[-1:] == (1,))
    ):
        return SparseCategoricalAccuracy(name=name)
    if "categorical" in loss_name or (pred_shape and true_shape == pred_shape):
        return CategoricalAccuracy(name=name)
    return Accuracy(name=name)
