"""Keras losses: functions returning per-sample losses and ``Loss`` classes that reduce them
(``sum_over_batch_size`` by default), over Ember tensors so gradients flow through Ember's autograd.

Where Keras's formula is PyTorch's, the loss is ``ember.nn.functional``'s (cross-entropy from logits is the
fused ``softmax_cross_entropy`` primitive; binary cross-entropy, MSE, MAE, Huber and Poisson are
``nn.functional``'s); Keras's own conventions stay where they differ (probabilities clipped to
``[epsilon, 1 - epsilon]``, KL divergence clipping, hinge labels). When the prediction is the output of a
softmax/sigmoid layer, the loss is computed from its logits (the numerically stable form Keras's TensorFlow
backend uses).

>>> import numpy as np
>>> from ember.keras import losses
>>> y_pred = np.array([[0.1, 0.9], [0.8, 0.2]], "float32")
>>> round(float(losses.SparseCategoricalCrossentropy()(np.array([1, 0]), y_pred)), 4)
0.1643
"""

from __future__ import annotations

import numpy as np

import ember
from ember import functional as F
from ember.errors import did_you_mean
from ember.nn import functional as NF
from ember.tensor import Tensor

from . import backend as K


def _t(x, dtype=None):
    return K.convert(x, dtype)


def _clip_probs(p):
    eps = K.epsilon()
    return F.clamp(p, eps, 1.0 - eps)


def _match(y_true, y_pred):
    y_true = _t(y_true)
    if y_true.dtype != y_pred.dtype:
        y_true = y_true.to(y_pred.dtype)
    if y_true.ndim == y_pred.ndim - 1 and tuple(y_pred.shape[-1:]) == (1,):
        y_true = y_true.unsqueeze(-1)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        try:
            np.broadcast_shapes(tuple(y_true.shape), tuple(y_pred.shape))
        except ValueError:
            raise ValueError(
                f"targets of shape {tuple(y_true.shape)} do not match predictions of shape "
                f"{tuple(y_pred.shape)}"
            ) from None
    return y_true


# -- per-sample loss functions ------------------------------------------------------------------------------
def _pair(y_true, y_pred):
    """(y_true, y_pred) as tensors of y_pred's dtype broadcast to one shape (nn.functional's losses are
    elementwise on equal shapes)."""
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        shape = np.broadcast_shapes(tuple(y_true.shape), tuple(y_pred.shape))
        y_true, y_pred = y_true.expand(*shape), y_pred.expand(*shape)
    return y_true, y_pred


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return NF.mse_loss(y_pred, y_true, reduction="none").mean(-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return NF.l1_loss(y_pred, y_true, reduction="none").mean(-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)
    return 100.0 * (F.abs(y_true - y_pred) / F.clamp(F.abs(y_true), min=K.epsilon())).mean(-1)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = _pair(y_true, y_pred)
    return NF.huber_loss(y_pred, y_true, reduction="none", delta=float(delta)).mean(-1)


def log_cosh(y_true, y_pred):
    y_pred = _t(y_pred)
    x = y_pred - _match(y_true, y_pred)
    ax = F.abs(x)  # log(cosh(x)) = |x| + log(1 + exp(-2|x|)) - log(2)
    return (ax + F.log1p(F.exp(-2.0 * ax)) - float(np.log(2.0))).mean(-1)


def _logits_of(y_pred, activation):
    z = getattr(y_pred, "_keras_logits", None)
    return z if z is not None and getattr(y_pred, "_keras_activation", None) == activation else None


def _class_axis_first(x, axis):
    """``x`` with its class axis at position 1 (nn.functional's layout), batch dims before it flattened."""
    x = x.movedim(axis % x.ndim, -1)
    return x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)
    logits = y_pred if from_logits else _logits_of(y_pred, "softmax")
    if logits is not None:
        batch = tuple(d for i, d in enumerate(logits.shape) if i != axis % logits.ndim)
        out = NF.cross_entropy(_class_axis_first(logits, axis), _class_axis_first(y_true.expand(*logits.shape), axis),
                               reduction="none", label_smoothing=float(label_smoothing))
        return out.reshape(*batch)
    if label_smoothing:
        n = y_pred.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / n
    p = y_pred / y_pred.sum(axis, keepdim=True)
    return -(y_true * F.log(_clip_probs(p))).sum(axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    y_pred = _t(y_pred)
    labels = y_true if isinstance(y_true, Tensor) else K.convert(np.asarray(y_true))
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    if tuple(labels.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError(
            f"sparse_categorical_crossentropy: integer targets of shape {tuple(labels.shape)} do not match "
            f"predictions of shape {tuple(y_pred.shape)} (expected targets of shape {tuple(y_pred.shape[:-1])})"
        )
    labels = labels if labels.dtype == ember.int64 else labels.to(ember.int64)
    keep = None
    if ignore_class is not None:  # Keras: those positions get loss 0
        keep = labels != ignore_class
        labels = F.where(keep, labels, ember.zeros_like(labels))
    flat = labels.reshape(-1)
    logits = y_pred if from_logits else _logits_of(y_pred, "softmax")
    if logits is not None:  # the fused softmax_cross_entropy primitive
        loss = NF.cross_entropy(logits.reshape(-1, logits.shape[-1]), flat, reduction="none")
    else:  # Keras's clipped probabilities
        p = y_pred / y_pred.sum(-1, keepdim=True)
        logp = F.log(_clip_probs(p)).reshape(-1, p.shape[-1])
        loss = NF.nll_loss(logp, flat, reduction="none")
    loss = loss.reshape(*labels.shape)
    return loss if keep is None else loss * keep.to(loss.dtype)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    logits = y_pred if from_logits else _logits_of(y_pred, "sigmoid")
    if logits is not None:
        y_true, logits = _pair(y_true, logits)
        return NF.binary_cross_entropy_with_logits(logits, y_true, reduction="none").mean(axis)
    y_true, y_pred = _pair(y_true, y_pred)
    return NF.binary_cross_entropy(_clip_probs(y_pred), y_true, reduction="none").mean(axis)


def kl_divergence(y_true, y_pred):
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)
    t = F.clamp(y_true, K.epsilon(), 1.0)
    return (t * F.log(t / F.clamp(y_pred, K.epsilon(), 1.0))).sum(-1)


def hinge(y_true, y_pred):
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)
    y_true = F.where(y_true == 0, -ember.ones_like(y_true), y_true)
    return F.relu(1.0 - y_true * y_pred).mean(-1)


def poisson(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return NF.poisson_nll_loss(y_pred, y_true, log_input=False, eps=K.epsilon(), reduction="none").mean(-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)

    def unit(x):
        return x / F.clamp(F.norm(x, 2, axis, True), min=1e-12)

    return -(unit(y_true) * unit(y_pred)).sum(axis)


mse, mae, mape = mean_squared_error, mean_absolute_error, mean_absolute_percentage_error
kld = kl_divergence


# -- Loss classes ---------------------------------------------------------------------------------------
def divide_no_nan(a, b):
    """``a / b``, 0 where ``b == 0`` (Keras's ``ops.divide_no_nan``)."""
    zero = b == 0
    return F.where(zero, ember.zeros_like(a), a / F.where(zero, ember.ones_like(b), b))


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Apply ``sample_weight`` (broadcast over trailing dims) and reduce like Keras 3."""
    if sample_weight is not None:
        w = _t(sample_weight, values.dtype.name)
        while w.ndim > values.ndim and w.shape[-1] == 1:
            w = w.squeeze(-1)
        while w.ndim < values.ndim:
            w = w.unsqueeze(-1)
        values = values * w
    if reduction in (None, "none"):
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return divide_no_nan(total, w.sum())
    return total / float(max(values.numel(), 1))


class Loss:
    """Base loss: ``call(y_true, y_pred)`` gives per-sample values; ``__call__`` weights and reduces them."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        valid = (None, "none", "sum", "sum_over_batch_size", "mean", "mean_with_sample_weight")
        if reduction not in valid:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {valid}, got {reduction!r}")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = _t(y_pred)
        if y_pred.is_floating_point() and y_pred.element_size() == 2:  # mixed precision: losses in floatx
            y_pred = y_pred.to(K.floatx())
        values = self.call(y_true, y_pred)
        values = _t(values)
        mask = getattr(values, "_keras_mask", None)
        if mask is not None:  # Keras: masked-out values leave the mean (weights total / valid on the rest)
            sample_weight = _mask_weights(mask, values.dtype, self.reduction, sample_weight)
        return reduce_values(values, sample_weight, self.reduction)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _mask_weights(mask, dtype, reduction, sample_weight):
    m = mask.to(dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        m = m * divide_no_nan(m._scalar(float(m.numel())), m.sum())
    return m if sample_weight is None else m * _t(sample_weight, dtype.name).reshape(*m.shape)


def _snake(name):
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class LossFunctionWrapper(Loss):
    """A Loss made from a function of ``(y_true, y_pred, **kwargs)``."""

    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name or fn.__name__, reduction=reduction)
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


def _wrapper_class(cls_name, fn, defaults, default_name):
    def __init__(self, *args, name=default_name, reduction="sum_over_batch_size", **kwargs):
        params = dict(defaults)
        for key, value in zip(defaults, args):
            params[key] = value
        unknown = set(kwargs) - set(defaults) - {"dtype"}
        if unknown:
            raise TypeError(f"{cls_name}: unexpected argument(s) {sorted(unknown)}")
        params.update({k: v for k, v in kwargs.items() if k in defaults})
        if "q" in params and not 0 < params["q"] < 1:
            raise ValueError(f"{cls_name}: q must be in the interval (0, 1), got q={params['q']!r}")
        LossFunctionWrapper.__init__(self, fn, name=name, reduction=reduction, **params)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, **self.fn_kwargs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    return type(
        cls_name,
        (LossFunctionWrapper,),
        {"__init__": __init__, "get_config": get_config, "from_config": from_config, "__module__": __name__},
    )


MeanSquaredError = _wrapper_class("MeanSquaredError", mean_squared_error, {}, "mean_squared_error")
MeanAbsoluteError = _wrapper_class("MeanAbsoluteError", mean_absolute_error, {}, "mean_absolute_error")
MeanAbsolutePercentageError = _wrapper_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error, {}, "mean_absolute_percentage_error"
)
Huber = _wrapper_class("Huber", huber, {"delta": 1.0}, "huber_loss")
LogCosh = _wrapper_class("LogCosh", log_cosh, {}, "log_cosh")
CategoricalCrossentropy = _wrapper_class(
    "CategoricalCrossentropy",
    categorical_crossentropy,
    {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "categorical_crossentropy",
)
SparseCategoricalCrossentropy = _wrapper_class(
    "SparseCategoricalCrossentropy",
    sparse_categorical_crossentropy,
    {"from_logits": False, "ignore_class": None},
    "sparse_categorical_crossentropy",
)
BinaryCrossentropy = _wrapper_class(
    "BinaryCrossentropy",
    binary_crossentropy,
    {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "binary_crossentropy",
)
KLDivergence = _wrapper_class("KLDivergence", kl_divergence, {}, "kl_divergence")
Hinge = _wrapper_class("Hinge", hinge, {}, "hinge")
Poisson = _wrapper_class("Poisson", poisson, {}, "poisson")
CosineSimilarity = _wrapper_class("CosineSimilarity", cosine_similarity, {"axis": -1}, "cosine_similarity")

# the rest of Keras's losses (losses_extra imports the helpers above)
from .losses_extra import (  # noqa: E402
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
    categorical_hinge,
    circle,
    ctc,
    dice,
    mean_squared_logarithmic_error,
    squared_hinge,
    tversky,
)

msle = mean_squared_logarithmic_error
SquaredHinge = _wrapper_class("SquaredHinge", squared_hinge, {}, "squared_hinge")
CategoricalHinge = _wrapper_class("CategoricalHinge", categorical_hinge, {}, "categorical_hinge")
MeanSquaredLogarithmicError = _wrapper_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error, {}, "mean_squared_logarithmic_error")
BinaryFocalCrossentropy = _wrapper_class(
    "BinaryFocalCrossentropy", binary_focal_crossentropy,
    {"apply_class_balancing": False, "alpha": 0.25, "gamma": 2.0, "from_logits": False, "label_smoothing": 0.0,
     "axis": -1}, "binary_focal_crossentropy")
CategoricalFocalCrossentropy = _wrapper_class(
    "CategoricalFocalCrossentropy", categorical_focal_crossentropy,
    {"alpha": 0.25, "gamma": 2.0, "from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "categorical_focal_crossentropy")
Dice = _wrapper_class("Dice", dice, {"axis": None}, "dice")
Tversky = _wrapper_class("Tversky", tversky, {"alpha": 0.5, "beta": 0.5, "axis": None}, "tversky")
Circle = _wrapper_class("Circle", circle, {"gamma": 80.0, "margin": 0.4, "remove_diagonal": True}, "circle")
CTC = _wrapper_class("CTC", ctc, {}, "ctc")
CategoricalGeneralizedCrossEntropy = _wrapper_class(
    "CategoricalGeneralizedCrossEntropy", categorical_generalized_cross_entropy, {"q": 0.5},
    "categorical_generalized_cross_entropy")
_EXTRA_CLASSES = (SquaredHinge, CategoricalHinge, MeanSquaredLogarithmicError, BinaryFocalCrossentropy,
                  CategoricalFocalCrossentropy, Dice, Tversky, Circle, CTC, CategoricalGeneralizedCrossEntropy)
_EXTRA_FUNCTIONS = (squared_hinge, categorical_hinge, mean_squared_logarithmic_error, binary_focal_crossentropy,
                    categorical_focal_crossentropy, dice, tversky, circle, ctc,
                    categorical_generalized_cross_entropy)

ALL_CLASSES = {
    c.__name__: c
    for c in (
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        Huber,
        LogCosh,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        BinaryCrossentropy,
        KLDivergence,
        Hinge,
        Poisson,
        CosineSimilarity,
    )
}
ALL_FUNCTIONS = {
    f.__name__: f
    for f in (
        mean_squared_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
        huber,
        log_cosh,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
        binary_crossentropy,
        kl_divergence,
        hinge,
        poisson,
        cosine_similarity,
    )
}
ALL_CLASSES.update({c.__name__: c for c in _EXTRA_CLASSES})
ALL_FUNCTIONS.update({f.__name__: f for f in _EXTRA_FUNCTIONS})
ALL_FUNCTIONS.update(
    msle=mean_squared_logarithmic_error,
    mse=mean_squared_error,
    mae=mean_absolute_error,
    mape=mean_absolute_percentage_error,
    kld=kl_divergence,
    huber_loss=huber,
)


def get(identifier):
    """A loss callable from a name (``'mse'``, ``'sparse_categorical_crossentropy'``), class name, instance,
    function or config dict."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in ALL_CLASSES:
            return ALL_CLASSES[identifier]()
        fn = ALL_FUNCTIONS.get(identifier)
        if fn is None:
            raise ValueError(f"unknown loss {identifier!r}{did_you_mean(identifier, ALL_FUNCTIONS)}; "
                             f"known: {', '.join(sorted(ALL_FUNCTIONS))}")
        return fn
    if isinstance(identifier, dict):
        from .saving import deserialize_keras_object

        return deserialize_keras_object(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"could not interpret loss {identifier!r}")


def serialize(loss):
    """Keras's serialized form of a loss: ``{"module", "class_name", "config", "registered_name"}`` for a
    ``Loss``, the function form for a loss function."""
    from .saving import serialize_keras_object

    return serialize_keras_object(loss)


def deserialize(config, custom_objects=None):
    """The loss described by ``config`` (from ``serialize``) or named by a string (``"Dice"``,
    ``"mean_squared_error"``)."""
    from .saving import deserialize_keras_object

    if isinstance(config, str) and config not in ALL_CLASSES and config not in ALL_FUNCTIONS:
        if not (custom_objects and config in custom_objects):
            raise ValueError(f"unknown loss {config!r}{did_you_mean(config, {**ALL_CLASSES, **ALL_FUNCTIONS})}")
    return deserialize_keras_object(config, {**ALL_CLASSES, **ALL_FUNCTIONS, **(custom_objects or {})})
