"""The rest of Keras 3's losses (focal and hinge variants, MSLE, Dice, Tversky, Circle, CTC, generalized
cross-entropy), as functions of ``(y_true, y_pred)`` returning per-sample values over Ember ops; ``losses``
wraps them in ``Loss`` classes with Keras's names, arguments and defaults.

>>> import numpy as np
>>> from ember.keras import losses
>>> round(float(losses.SquaredHinge()(np.array([[1.0, -1.0]]), np.array([[0.5, 0.5]]))), 4)
1.25
"""

from __future__ import annotations

import numpy as np

import ember
from ember import functional as F
from ember.nn import functional as NF

from . import backend as K
from .losses import _clip_probs, _match, _pair, _t

_NEG = -1e30


def _hinge_labels(y_true):
    """Keras's hinge convention: labels in {0, 1} become {-1, 1} (labels already in {-1, 1} stay)."""
    return F.where(y_true == 0, -ember.ones_like(y_true), y_true)


def squared_hinge(y_true, y_pred):
    y_pred = _t(y_pred)
    y_true = _hinge_labels(_match(y_true, y_pred))
    return F.square(F.relu(1.0 - y_true * y_pred)).mean(-1)


def categorical_hinge(y_true, y_pred):
    """``max(0, 1 + max((1 - y_true) * y_pred) - sum(y_true * y_pred))`` per sample."""
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)
    pos = (y_true * y_pred).sum(-1)
    neg = ((1.0 - y_true) * y_pred).amax(-1)
    return F.relu(neg - pos + 1.0)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    eps = K.epsilon()
    diff = F.log(F.clamp(y_pred, min=eps) + 1.0) - F.log(F.clamp(y_true, min=eps) + 1.0)
    return F.square(diff).mean(-1)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy scaled by ``(1 - p_t) ** gamma`` (and by ``alpha`` / ``1 - alpha`` with class
    balancing), on clipped probabilities as Keras computes it."""
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = F.sigmoid(y_pred)
    y_true, y_pred = _pair(y_true, y_pred)
    bce = NF.binary_cross_entropy(_clip_probs(y_pred), y_true, reduction="none")
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    out = F.pow(1.0 - p_t, float(gamma)) * bce
    if apply_class_balancing:
        out = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * out
    return out.mean(axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """``sum(alpha * (1 - p) ** gamma * -y_true * log(p))`` over the class axis, ``p`` the normalised and
    clipped probabilities."""
    if isinstance(axis, bool):
        raise ValueError(f"categorical_focal_crossentropy: axis must be an int, got {axis!r}")
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        y_pred = F.softmax(y_pred, axis)
    p = _clip_probs(y_pred / y_pred.sum(axis, keepdim=True))
    return (alpha * F.pow(1.0 - p, float(gamma)) * (-y_true * F.log(p))).sum(axis)


def _sum(x, axis):
    return x.sum() if axis is None else x.sum(axis)


def dice(y_true, y_pred, axis=None):
    """``1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + epsilon)`` over ``axis`` (all axes by
    default: one value for the batch)."""
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)
    inter = _sum(y_true * y_pred, axis)
    return 1.0 - 2.0 * inter / (_sum(y_true, axis) + _sum(y_pred, axis) + K.epsilon())


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """``1 - TP / (TP + alpha * FP + beta * FN + epsilon)`` with soft counts, as Keras defines them."""
    y_pred = _t(y_pred)
    y_true = _match(y_true, y_pred)
    inter = _sum(y_true * y_pred, axis)
    fp = _sum((1.0 - y_pred) * y_true, axis)
    fn = _sum(y_pred * (1.0 - y_true), axis)
    return 1.0 - inter / (inter + fp * alpha + fn * beta + K.epsilon())


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """``(1 - p_true ** q) / q`` with integer labels ``y_true`` and probabilities ``y_pred``."""
    y_pred = _t(y_pred)
    labels = _t(y_true).to(ember.int64)
    if labels.ndim == y_pred.ndim:
        labels = labels.squeeze(-1)
    p = y_pred.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return (1.0 - F.pow(p, float(q))) / q


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    """Circle loss (Sun et al., 2020) over the pairwise cosine distances of L2-normalised embeddings
    ``y_pred`` (to ``ref_embeddings``, themselves by default) with integer labels ``y_true``; one value per
    embedding. Values of 0 are masked out of the mean, as Keras masks them."""
    y_pred = _t(y_pred)
    labels = _t(y_true).to(ember.int64).reshape(-1, 1)
    refs = y_pred if ref_embeddings is None else _t(ref_embeddings)
    ref_labels = labels if ref_labels is None else _t(ref_labels).to(ember.int64).reshape(-1, 1)
    dist = F.relu(1.0 - y_pred @ refs.t())
    pos = labels == ref_labels.t()
    neg = F.logical_not(pos)
    if remove_diagonal:
        off_diag = ember.tensor(~np.eye(labels.shape[0], ref_labels.shape[0], dtype=bool))
        pos = F.logical_and(pos, off_diag)
    pos_f, neg_f = pos.to(dist.dtype), neg.to(dist.dtype)
    pos_w = F.relu((margin + dist) * pos_f)
    neg_w = F.relu((1.0 + margin - dist) * neg_f)
    pos_logits = -gamma * pos_w * (margin - dist)
    neg_logits = gamma * neg_w * ((1.0 - margin) - dist)
    ninf = ember.full_like(dist, _NEG)  # a finite "-inf": an empty row gives 0 and finite gradients
    p_loss = F.logsumexp(F.where(pos, pos_logits, ninf), 1)
    n_loss = F.logsumexp(F.where(neg, neg_logits, ninf), 1)
    out = NF.softplus(p_loss + n_loss)
    out._keras_mask = out.detach() > 0
    return out


def ctc(y_true, y_pred):
    """Connectionist temporal classification loss: ``y_true`` (batch, max_label_length) integer labels
    padded with 0 (the blank), ``y_pred`` (batch, time, classes) logits; one negative log-likelihood per
    sample. The forward recursion runs in log space over Ember ops, so gradients flow through autograd."""
    y_pred = _t(y_pred)
    if y_pred.ndim != 3:
        raise ValueError(f"ctc: y_pred must be (batch, time, classes) logits, got shape {tuple(y_pred.shape)}")
    labels = np.asarray(K.to_numpy(_t(y_true))).astype(np.int64)
    if labels.ndim != 2 or labels.shape[0] != y_pred.shape[0]:
        raise ValueError(f"ctc: y_true must be (batch, max_label_length) integer labels for a batch of "
                         f"{y_pred.shape[0]}, got shape {labels.shape}")
    logp = F.log_softmax(y_pred.to(ember.float32) if y_pred.element_size() < 4 else y_pred, -1)
    return ember.stack([_ctc_one(logp[b], labels[b][labels[b] != 0]) for b in range(labels.shape[0])])


def _ctc_one(logp, label):
    """Negative log-likelihood of ``label`` (no blanks) under per-step log-probabilities ``logp`` (T, C)."""
    ext = np.zeros(2 * len(label) + 1, np.int64)
    ext[1::2] = label  # blank, l1, blank, l2, ..., blank
    s = len(ext)
    skip = np.zeros(s, bool)  # a transition from s-2 is allowed onto a label different from the one before
    skip[3::2] = label[1:] != label[:-1]
    idx = ember.tensor(ext)
    neg_inf = _NEG
    init = np.full(s, neg_inf, np.float32)
    init[:2] = 0.0
    alpha = logp[0].index_select(0, idx) + ember.tensor(init[:s]).to(logp.dtype)
    pad = ember.full((2,), neg_inf, dtype=logp.dtype)
    skip_mask = ember.tensor(skip)
    for t in range(1, logp.shape[0]):
        shifted = ember.cat([pad, alpha])
        prev1, prev2 = shifted[1:s + 1], shifted[:s]
        prev2 = F.where(skip_mask, prev2, ember.full_like(prev2, neg_inf))
        alpha = F.logsumexp(ember.stack([alpha, prev1, prev2]), 0) + logp[t].index_select(0, idx)
    tail = alpha[-2:] if s > 1 else alpha[-1:]
    return -F.logsumexp(tail, 0)
