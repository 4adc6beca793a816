"""The rest of Keras 3's metrics: confusion counts at thresholds (``TruePositives``...), the
sensitivity/specificity/precision/recall-at-a-constraint family, F-scores, IoU from a confusion matrix, R2,
correlations and the mean-of-a-function metrics (hinge, Poisson, KL divergence...), with Keras's names,
arguments, state variables and results. State lives in Keras variables updated in place, as in ``metrics``.

>>> import numpy as np
>>> from ember.keras import metrics
>>> m = metrics.TruePositives()
>>> m.update_state(np.array([0, 1, 1, 1]), np.array([0.1, 0.9, 0.3, 0.8]))
>>> float(m.result())
2.0
"""

from __future__ import annotations

import warnings

import numpy as np

import ember
from ember import functional as F
from ember.autograd import no_grad

from . import backend as K
from . import losses as L
from .metrics import Metric, _float, _same_rank, _sample_weights, divide_no_nan


# -- mean-of-a-function metrics (functions as Keras's metrics module defines them) -------------------------
def cosine_similarity(y_true, y_pred, axis=-1):
    """Cosine similarity (not negated, unlike the loss) along ``axis``."""
    y_pred = K.convert(y_pred)
    y_true, y_pred = _same_rank(K.convert(y_true, y_pred.dtype.name), y_pred)

    def unit(x):
        return x / F.sqrt(F.clamp((x * x).sum(axis, keepdim=True), min=1e-12))

    return (unit(y_true) * unit(y_pred)).sum(axis)


def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson's correlation along ``axis`` (population standard deviations)."""
    y_pred = K.convert(y_pred)
    y_true, y_pred = _same_rank(K.convert(y_true, y_pred.dtype.name), y_pred)
    t = y_true - y_true.mean(axis, keepdim=True)
    p = y_pred - y_pred.mean(axis, keepdim=True)
    t = t / F.sqrt((t * t).mean(axis, keepdim=True))
    p = p / F.sqrt((p * p).mean(axis, keepdim=True))
    return (t * p).mean(axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation along ``axis``, as Keras 3 computes it (its covariance term centres
    ``y_true`` on the mean of ``y_pred``)."""
    y_pred = K.convert(y_pred)
    y_true, y_pred = _same_rank(K.convert(y_true, y_pred.dtype.name), y_pred)
    t_mean, p_mean = y_true.mean(axis, keepdim=True), y_pred.mean(axis, keepdim=True)
    t_var = F.square(y_true - t_mean).mean(axis, keepdim=True)
    p_var = F.square(y_pred - p_mean).mean(axis, keepdim=True)
    covar = (y_true - p_mean) * (y_pred - p_mean)
    norm = t_var + p_var + F.square(t_mean - p_mean)
    return (2.0 * covar / (norm + K.epsilon())).mean(axis)


# -- confusion counts at thresholds -----------------------------------------------------------------------
def _thresholds_list(thresholds, default=0.5):
    values = [default] if thresholds is None else (
        list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds])
    for t in values:
        if not 0.0 <= float(t) <= 1.0:
            raise ValueError(f"thresholds must be in [0, 1], got {thresholds!r}")
    return values


def confusion_counts(y_true, y_pred, thresholds, sample_weight=None, class_id=None):
    """(tp, fp, tn, fn), each a float32 vector over ``thresholds`` (a positive prediction is
    ``y_pred > threshold``), weighted per element."""
    pred = _float(y_pred, "float32")
    true = _float(y_true, "float32")
    if class_id is not None:
        pred, true = pred[..., class_id], true[..., class_id]
    true = true.reshape(*pred.shape)
    w = _sample_weights(sample_weight, pred)
    pred, true = pred.reshape(-1), true.reshape(-1)
    w = pred.new_ones(pred.shape) if w is None else w.reshape(-1).to(ember.float32)
    above = (pred.unsqueeze(0) > K.convert(np.asarray(thresholds, "float32")).unsqueeze(-1)).to(ember.float32)
    pos, neg = (true > 0.5).to(ember.float32) * w, (true <= 0.5).to(ember.float32) * w
    tp, fp = above @ pos, above @ neg
    return tp, fp, neg.sum() - fp, pos.sum() - tp


class _ConfusionCount(Metric):
    """One confusion count (``_which``) accumulated at each threshold (0.5 by default)."""

    _which = 0

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.init_thresholds = thresholds
        self.thresholds = _thresholds_list(thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            counts = confusion_counts(y_true, y_pred, self.thresholds, sample_weight)
            self.accumulator.assign_add(counts[self._which])

    def result(self):
        acc = self.accumulator.detach().clone()
        return acc[0] if len(self.thresholds) == 1 else acc

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


def _count_class(name, which):
    return type(name, (_ConfusionCount,), {"_which": which, "__module__": __name__,
                                           "__doc__": f"The weighted number of {name[:-1].lower()}s."})


TruePositives = _count_class("TruePositives", 0)
FalsePositives = _count_class("FalsePositives", 1)
TrueNegatives = _count_class("TrueNegatives", 2)
FalseNegatives = _count_class("FalseNegatives", 3)


class _AtConstraint(Metric):
    """The best ``dependent`` rate over thresholds whose ``constrained`` rate is >= ``value`` (Keras's
    sensitivity/specificity family: ``num_thresholds`` thresholds evenly spread over [0, 1])."""

    _value_name = "value"

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name, dtype)
        if num_thresholds <= 0:
            raise ValueError(f"{type(self).__name__}: num_thresholds must be an integer > 0, got {num_thresholds}")
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{type(self).__name__}: {self._value_name} must be in [0, 1], got {value}")
        self.value, self.num_thresholds, self.class_id = value, num_thresholds, class_id
        self.thresholds = [0.5] if num_thresholds == 1 else (
            [0.0] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1.0])
        for n in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, n, self.add_variable((len(self.thresholds),), name=n))

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            tp, fp, tn, fn = confusion_counts(y_true, y_pred, self.thresholds, sample_weight, self.class_id)
            for var, value in ((self.true_positives, tp), (self.false_positives, fp),
                               (self.true_negatives, tn), (self.false_negatives, fn)):
                var.assign_add(value)

    def _rates(self):
        tp, fp = self.true_positives.detach(), self.false_positives.detach()
        tn, fn = self.true_negatives.detach(), self.false_negatives.detach()
        return {"sensitivity": divide_no_nan(tp, tp + fn), "specificity": divide_no_nan(tn, tn + fp),
                "precision": divide_no_nan(tp, tp + fp), "recall": divide_no_nan(tp, tp + fn)}

    def _best(self, constrained, dependent):
        rates = self._rates()
        feasible = rates[constrained] >= self.value
        return F.relu(F.where(feasible, rates[dependent], ember.zeros_like(rates[dependent])).amax())

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id, "num_thresholds": self.num_thresholds,
                self._value_name: self.value}


def _at_class(cls_name, value_name, constrained, dependent):
    import inspect

    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
              inspect.Parameter(value_name, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d)
               for n, d in (("num_thresholds", 200), ("class_id", None), ("name", None), ("dtype", None))]

    def init(self, *args, **kwargs):
        bound = inspect.Signature(params).bind(self, *args, **kwargs)
        bound.apply_defaults()
        a = dict(bound.arguments)
        _AtConstraint.__init__(self, a[value_name], a["num_thresholds"], a["class_id"], a["name"], a["dtype"])

    def result(self):
        return self._best(constrained, dependent)

    return type(cls_name, (_AtConstraint,), {"__init__": init, "result": result, "_value_name": value_name,
                                             "__module__": __name__,
                                             "__doc__": f"The best {dependent} where {constrained} >= "
                                                        f"``{value_name}``."})


SensitivityAtSpecificity = _at_class("SensitivityAtSpecificity", "specificity", "specificity", "sensitivity")
SpecificityAtSensitivity = _at_class("SpecificityAtSensitivity", "sensitivity", "sensitivity", "specificity")
PrecisionAtRecall = _at_class("PrecisionAtRecall", "recall", "recall", "precision")
RecallAtPrecision = _at_class("RecallAtPrecision", "precision", "precision", "recall")


# -- F-scores ---------------------------------------------------------------------------------------------
class FBetaScore(Metric):
    """F-beta per class from (batch, classes) inputs; ``average`` None (per class), 'micro', 'macro' or
    'weighted'. Without ``threshold`` a sample's highest score counts as its positive prediction."""

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name, dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"{type(self).__name__}: average must be one of None, 'micro', 'macro', 'weighted', "
                             f"got average={average!r}")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"{type(self).__name__}: beta must be a float > 0, got beta={beta!r}")
        if threshold is not None and not (isinstance(threshold, float) and 0.0 < threshold <= 1.0):
            raise ValueError(f"{type(self).__name__}: threshold must be a float in (0, 1], got "
                             f"threshold={threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self._built = False

    def _build(self, shape_true, shape_pred):
        if len(shape_pred) != 2 or len(shape_true) != 2:
            raise ValueError(f"{type(self).__name__} expects 2D inputs (batch_size, output_dim), got "
                             f"y_true.shape={shape_true} and y_pred.shape={shape_pred}")
        shape = () if self.average == "micro" else (shape_pred[-1],)
        for n in ("true_positives", "false_positives", "false_negatives", "intermediate_weights"):
            setattr(self, n, self.add_variable(shape, name=n))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            y_true, y_pred = _float(y_true, self.dtype), _float(y_pred, self.dtype)
            if not self._built:
                self._build(tuple(y_true.shape), tuple(y_pred.shape))
            if self.threshold is None:
                top = y_pred.amax(-1, keepdim=True)
                pred = F.logical_and(y_pred >= top, F.abs(y_pred) > 1e-9)
            else:
                pred = y_pred > self.threshold
            pred = pred.to(y_true.dtype)
            w = None if sample_weight is None else _float(sample_weight, self.dtype).unsqueeze(1)

            def total(v):
                v = v if w is None else v * w
                return v.sum() if self.average == "micro" else v.sum(0)

            self.true_positives.assign_add(total(pred * y_true))
            self.false_positives.assign_add(total(pred * (1.0 - y_true)))
            self.false_negatives.assign_add(total((1.0 - pred) * y_true))
            self.intermediate_weights.assign_add(total(y_true))

    def result(self):
        if not self._built:
            raise ValueError(f"{type(self).__name__}: result() before any update_state()")
        eps = K.epsilon()
        tp, fp, fn = (v.detach() for v in (self.true_positives, self.false_positives, self.false_negatives))
        precision, recall = tp / (tp + fp + eps), tp / (tp + fn + eps)
        b2 = self.beta ** 2
        f = precision * recall / (b2 * precision + recall + eps) * (1 + b2)
        if self.average == "weighted":
            w = self.intermediate_weights.detach()
            return (f * (w / (w.sum() + eps))).sum()
        return f.mean() if self.average is not None else f

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """F-beta with beta = 1."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average, 1.0, threshold, name, dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


# -- IoU --------------------------------------------------------------------------------------------------
class IoU(Metric):
    """Intersection over union per target class from a weighted confusion matrix (true rows, predicted
    columns), averaged over the target classes that occur."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name, dtype or "int32")
        if max(target_class_ids, default=0) >= num_classes:
            raise ValueError(f"{type(self).__name__}: target_class_ids {list(target_class_ids)} must be < "
                             f"num_classes={num_classes}")
        self.num_classes, self.target_class_ids = num_classes, list(target_class_ids)
        self.ignore_class, self.sparse_y_true, self.sparse_y_pred, self.axis = (
            ignore_class, sparse_y_true, sparse_y_pred, axis)
        self.total_cm = self.add_variable((num_classes, num_classes), name="total_confusion_matrix")

    def _labels(self, y_true, y_pred):
        y_true, y_pred = K.convert(y_true), K.convert(y_pred)
        if not self.sparse_y_true:
            y_true = y_true.argmax(self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(self.axis)
        return y_true, y_pred

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            y_true, y_pred = self._labels(y_true, y_pred)
            t, p = y_true.reshape(-1).to(ember.int64), y_pred.reshape(-1).to(ember.int64)
            if sample_weight is None:
                w = ember.ones(t.shape[0], dtype=ember.float64)
            else:
                if "int" in self.dtype and K.convert(sample_weight).is_floating_point():  # no host read
                    warnings.warn(f"{type(self).__name__}: float sample weights with an integer dtype "
                                  f"({self.dtype}) are truncated; pass integer weights or dtype='float32'",
                                  stacklevel=2)
                w = K.convert(sample_weight).reshape(-1).to(self.total_cm.dtype)  # Keras casts first
                w = w.to(ember.float64).expand(t.shape[0])
            n = self.num_classes
            keep = F.logical_and(F.logical_and(t >= 0, t < n), F.logical_and(p >= 0, p < n))
            if self.ignore_class is not None:
                keep = F.logical_and(keep, t != self.ignore_class)
            w = w * keep.to(w.dtype)
            t = F.where(keep, t, ember.zeros_like(t))
            p = F.where(keep, p, ember.zeros_like(p))
            onehot_t = (t.unsqueeze(1) == ember.arange(n).unsqueeze(0)).to(w.dtype) * w.unsqueeze(1)
            onehot_p = (p.unsqueeze(1) == ember.arange(n).unsqueeze(0)).to(w.dtype)
            cm = onehot_t.t() @ onehot_p
            self.total_cm.assign_add(cm.to(self.total_cm.dtype))

    def result(self):
        cm = self.total_cm.detach().to(ember.float32)
        tp = (cm * ember.eye(cm.shape[0])).sum(1)
        denom = cm.sum(0) + cm.sum(1) - tp
        ids = K.convert(np.asarray(self.target_class_ids, "int64"))
        tp, denom = tp.index_select(0, ids), denom.index_select(0, ids)
        valid = denom > 1e-9
        iou = F.where(valid, tp / (denom + K.epsilon()), ember.zeros_like(tp))
        return iou.sum() / (valid.to(ember.float32).sum() + K.epsilon())

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class MeanIoU(IoU):
    """IoU averaged over all ``num_classes`` classes."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name, dtype, ignore_class, sparse_y_true,
                         sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]
        return config


class BinaryIoU(IoU):
    """IoU of binary predictions (``y_pred >= threshold``) for ``target_class_ids`` among {0, 1}."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, list(target_class_ids), name, dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            pred = (_float(y_pred, "float32") >= self.threshold).to(ember.int64)
            super().update_state(y_true, pred, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class OneHotIoU(IoU):
    """IoU with one-hot ``y_true`` and per-class scores ``y_pred``."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """Mean IoU with one-hot ``y_true`` and per-class scores ``y_pred``."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


# -- R2 ---------------------------------------------------------------------------------------------------
class R2Score(Metric):
    """Coefficient of determination per output of (batch, outputs) inputs, aggregated with
    ``class_aggregation`` ('uniform_average', 'variance_weighted_average' or None); adjusted for
    ``num_regressors`` > 0."""

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name, dtype)
        valid = ("uniform_average", "variance_weighted_average", None)
        if class_aggregation not in valid:
            raise ValueError(f"R2Score: class_aggregation must be one of {valid}, got {class_aggregation!r}")
        if num_regressors < 0:
            raise ValueError(f"R2Score: num_regressors must be >= 0, got {num_regressors}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.num_samples = self.add_variable((), name="num_samples", dtype="int32")
        self._built = False

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            y_true, y_pred = _same_rank(_float(y_true, self.dtype), _float(y_pred, self.dtype))
            if y_pred.ndim != 2 or y_true.ndim != 2:
                raise ValueError(f"R2Score expects 2D inputs (batch_size, output_dim), got "
                                 f"y_true.shape={tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}")
            if not self._built:
                for n in ("squared_sum", "sum", "residual", "count"):
                    setattr(self, n, self.add_variable((y_pred.shape[-1],), name=n))
                self._built = True
            w = y_true.new_ones(()) if sample_weight is None else _float(sample_weight, self.dtype)
            if w.ndim == 1:
                w = w.unsqueeze(1)
            w = w.expand(*y_true.shape)
            wt = y_true * w
            self.sum.assign_add(wt.sum(0))
            self.squared_sum.assign_add((y_true * wt).sum(0))
            self.residual.assign_add((F.square(y_true - y_pred) * w).sum(0))
            self.count.assign_add(w.sum(0))
            self.num_samples.assign_add(int(y_true.numel()))

    def result(self):
        mean = self.sum.detach() / self.count.detach()
        total = self.squared_sum.detach() - self.sum.detach() * mean
        raw = 1.0 - self.residual.detach() / total
        raw = F.where(F.isinf(raw), ember.zeros_like(raw), raw)
        if self.class_aggregation == "uniform_average":
            r2 = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            r2 = (total * raw).sum() / total.sum()
        else:
            r2 = raw
        n, p = int(self.num_samples), self.num_regressors
        if p and p >= n - 1:
            warnings.warn(f"R2Score: num_regressors={p} with {n} samples; falling back to the standard R2 score",
                          stacklevel=2)
        elif p:
            r2 = 1.0 - (1.0 - r2) * (n - 1.0) / (n - p - 1.0)
        return r2

    def reset_state(self):
        if self._built:
            super().reset_state()
        else:
            self.num_samples.assign(0)

    def get_config(self):
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


FUNCTIONS = {f.__name__: f for f in (cosine_similarity, pearson_correlation, concordance_correlation)}
MEAN_FUNCTIONS = {  # Keras metric class -> (function, default name, keyword defaults)
    "CosineSimilarity": (cosine_similarity, "cosine_similarity", {"axis": -1}),
    "KLDivergence": (L.kl_divergence, "kl_divergence", {}),
    "LogCoshError": (L.log_cosh, "logcosh", {}),
    "MeanAbsolutePercentageError": (L.mean_absolute_percentage_error, "mean_absolute_percentage_error", {}),
    "MeanSquaredLogarithmicError": (L.mean_squared_logarithmic_error, "mean_squared_logarithmic_error", {}),
    "Poisson": (L.poisson, "poisson", {}),
    "Hinge": (L.hinge, "hinge", {}),
    "SquaredHinge": (L.squared_hinge, "squared_hinge", {}),
    "CategoricalHinge": (L.categorical_hinge, "categorical_hinge", {}),
    "PearsonCorrelation": (pearson_correlation, "pearson_correlation", {"axis": -1}),
    "ConcordanceCorrelation": (concordance_correlation, "concordance_correlation", {"axis": -1}),
}
