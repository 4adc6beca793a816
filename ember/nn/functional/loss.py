"""Loss functions (torch.nn.functional names and semantics).

>>> import ember
>>> import ember.nn.functional as F
>>> logits = ember.tensor([[2.0, 0.5, -1.0]])
>>> round(F.cross_entropy(logits, ember.tensor([0])).item(), 4)
0.2413
"""
from __future__ import annotations

import warnings

from ..._autocast import autocast_op
from ...creation import as_tensor
from ...errors import mark, with_user_line
from ...functional.linalg import log_softmax
from ...functional.math import cast
from ...ops import apply
from ...tensor import Tensor

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "soft_margin_loss",
           "margin_ranking_loss", "cosine_embedding_loss", "poisson_nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduction(reduction, size_average=None, reduce=None, name="loss", extra=()):
    if size_average is not None or reduce is not None:  # PyTorch's legacy arguments
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else "mean" if size_average else "sum"
    if reduction not in _REDUCTIONS + tuple(extra):
        raise mark(with_user_line(ValueError(
            f"{name}: reduction must be one of {', '.join(_REDUCTIONS + tuple(extra))}, got {reduction!r}"),
        3))
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_target(target, like, name):
    if not isinstance(target, Tensor):
        target = as_tensor(target, device=like.device)
    return target


def _float_pair(input, target, name):
    if not isinstance(input, Tensor):
        raise mark(with_user_line(TypeError(f"{name}: expected an ember.Tensor input, got "
                                            f"{type(input).__name__}"), 3))
    target = _as_target(target, input, name)
    if not input.is_floating_point():
        raise mark(with_user_line(TypeError(
            f"{name}: expected a floating-point input, got {input.dtype.name}; convert it with .float()"), 3))
    if target._data.dtype != input._data.dtype:
        target = cast(target, input.dtype)
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"{name}: using a target size {tuple(target.shape)} that is different to the input "
                      f"size {tuple(input.shape)}; this will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", stacklevel=3)
    return input, target


# -- classification ------------------------------------------------------------------------------------------
def _check_class_target(input, target, name):
    if target._data.dtype.kind not in "iu":
        raise mark(with_user_line(RuntimeError(
            f"{name}: expected class indices as an integer (int64) target, got {target.dtype.name} of shape "
            f"{tuple(target.shape)}. For class probabilities pass a float target with the input's shape "
            f"{tuple(input.shape)}; otherwise convert with target.long()"), 4))
    batched = input.ndim >= 2
    want = (input.shape[0],) + tuple(input.shape[2:]) if batched else ()
    if tuple(target.shape) != want:
        raise mark(with_user_line(ValueError(
            f"{name}: expected target of shape {want} for input of shape {tuple(input.shape)} (N, C, d1, "
            f"...), got {tuple(target.shape)}"), 4))


@autocast_op
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """-input[n, target[n]] (times weight[target[n]]), skipping ``ignore_index``; 'mean' divides by the
    summed weights.

    >>> logp = ember.tensor([[-0.5, -1.0], [-2.0, -0.1]])    # (N, C) log-probabilities
    >>> F.nll_loss(logp, ember.tensor([0, 1]))
    tensor(0.3000)
    """
    reduction = _reduction(reduction, size_average, reduce, "nll_loss")
    target = _as_target(target, input, "nll_loss")
    _check_class_target(input, target, "nll_loss")
    if input.ndim == 1:
        out = nll_loss(input.unsqueeze(0), target.reshape(1), weight, None, ignore_index, None, reduction)
        return out.reshape(()) if reduction == "none" else out
    picked, wt = _pick(input, target, weight, ignore_index)
    loss = -picked if wt is None else -(picked * wt)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean() if wt is None else loss.sum() / wt.sum()


def _pick(input, target, weight, ignore_index):
    """input[n, target[n], ...] and the per-element weight (the ignore_index mask, times ``weight``)."""
    c = input.shape[1]
    valid = apply("ne", target, target._scalar(ignore_index))  # masks, not a Python test: traces stay whole
    safe = apply("where", valid, target, target._scalar(0))
    in_range = apply("logical_and", apply("ge", safe, safe._scalar(0)), apply("lt", safe, safe._scalar(c)))
    apply("assert_all", in_range, safe, error="IndexError", message=(
        f"nll_loss: target {{value}} is out of bounds for {c} classes (input {tuple(input.shape)}); targets "
        f"must lie in [0, {c - 1}] or equal ignore_index={ignore_index}"))
    if safe._data.dtype.kind != "i" or safe._data.dtype.itemsize != 8:
        safe = cast(safe, "int64")
    picked = input.gather(1, safe.unsqueeze(1)).squeeze(1)
    wt = None
    if weight is not None:
        wt = weight[safe]
    if valid is not None:
        v = cast(valid, input.dtype)
        wt = v if wt is None else wt * v
    return picked, wt


@autocast_op
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax over dim 1 followed by NLL; ``target`` holds class indices (N, d1, ...) or class
    probabilities with the input's shape. Labels of any integer dtype (e.g. from NumPy) are accepted.

    >>> logits = ember.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]])    # (N, C)
    >>> F.cross_entropy(logits, ember.tensor([0, 2]))
    tensor(0.2395)
    >>> F.cross_entropy(logits, ember.tensor([0, 2]), label_smoothing=0.1)
    tensor(0.3729)
    """
    reduction = _reduction(reduction, size_average, reduce, "cross_entropy")
    if not isinstance(input, Tensor):
        raise mark(with_user_line(TypeError(
            f"cross_entropy: expected an ember.Tensor input, got {type(input).__name__}"), 2))
    target = _as_target(target, input, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise mark(with_user_line(ValueError(
            f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"), 2))
    if not input.is_floating_point():
        raise mark(with_user_line(TypeError(
            f"cross_entropy: expected floating-point logits, got {input.dtype.name}; convert with .float()"),
            2))
    if target.is_floating_point():
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    _check_class_target(input, target, "cross_entropy")
    if input.ndim == 2 and weight is None:
        return apply("softmax_cross_entropy", input, target, ignore_index=int(ignore_index),
                     label_smoothing=float(label_smoothing), reduction=reduction)
    if input.ndim == 1:
        out = cross_entropy(input.unsqueeze(0), target.reshape(1), weight, None, ignore_index, None,
                            reduction, label_smoothing)
        return out.reshape(()) if reduction == "none" else out
    logp = log_softmax(input, 1)
    nll = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    if not label_smoothing:
        return nll
    return (1 - label_smoothing) * nll + _smooth_term(logp, target, weight, ignore_index, reduction) * (
        label_smoothing / input.shape[1])


def _smooth_term(logp, target, weight, ignore_index, reduction):
    shape = (1, -1) + (1,) * (logp.ndim - 2)
    smooth = -(logp * weight.reshape(*shape)).sum(1) if weight is not None else -logp.sum(1)
    valid = cast(apply("ne", target, target._scalar(ignore_index)), logp.dtype)
    smooth = smooth * valid
    if reduction == "none":
        return smooth
    if reduction == "sum":
        return smooth.sum()
    if weight is not None:
        safe = apply("where", apply("ne", target, target._scalar(ignore_index)), target, target._scalar(0))
        return smooth.sum() / (weight[safe] * valid).sum()
    return smooth.sum() / valid.sum()


def _soft_cross_entropy(input, target, weight, reduction, label_smoothing):
    if tuple(target.shape) != tuple(input.shape):
        raise mark(with_user_line(ValueError(
            f"cross_entropy: a floating-point target holds class probabilities and must have the input's "
            f"shape {tuple(input.shape)}, got {tuple(target.shape)}. For class indices use an integer target "
            "(target.long())"), 3))
    dim = 1 if input.ndim > 1 else 0
    c = input.shape[dim]
    if target._data.dtype != input._data.dtype:
        target = cast(target, input.dtype)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / c
    prod = log_softmax(input, dim) * target
    if weight is not None:
        prod = prod * weight.reshape(*((-1,) + (1,) * (input.ndim - 2))) if dim == 1 else prod * weight
    loss = -prod.sum(dim)
    if reduction == "mean":
        return loss.sum() / max(input.numel() // c, 1) if input.numel() else loss.sum() / 0.0
    return loss.sum() if reduction == "sum" else loss


@autocast_op
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)) with each log clamped at -100, like PyTorch.

    >>> F.binary_cross_entropy(ember.tensor([0.9, 0.2]), ember.tensor([1.0, 0.0]))
    tensor(0.1643)
    """
    reduction = _reduction(reduction, size_average, reduce, "binary_cross_entropy")
    input, target = _float_pair(input, target, "binary_cross_entropy")
    if tuple(target.shape) != tuple(input.shape):
        raise mark(with_user_line(ValueError(
            f"binary_cross_entropy: target size {tuple(target.shape)} must be the same as input size "
            f"{tuple(input.shape)}"), 2))
    x = input.detach()
    apply("assert_all", apply("logical_and", apply("ge", x, x._scalar(0.0)), apply("le", x, x._scalar(1.0))),
          x, message=("binary_cross_entropy: all elements of input should be between 0 and 1 (probabilities), "
                      "got {value}. For raw scores (logits) use binary_cross_entropy_with_logits / "
                      "nn.BCEWithLogitsLoss"))
    log_x = input.log().clamp(min=-100.0)
    log_1mx = (1 - input).log().clamp(min=-100.0)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@autocast_op
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean",
                                     pos_weight=None):
    """Sigmoid + binary cross-entropy in one numerically stable expression; ``pos_weight`` weights the
    positive term.

    >>> F.binary_cross_entropy_with_logits(ember.tensor([2.0, -1.0]), ember.tensor([1.0, 0.0]))
    tensor(0.2201)
    """
    reduction = _reduction(reduction, size_average, reduce, "binary_cross_entropy_with_logits")
    input, target = _float_pair(input, target, "binary_cross_entropy_with_logits")
    if tuple(target.shape) != tuple(input.shape):
        raise mark(with_user_line(ValueError(
            f"binary_cross_entropy_with_logits: target size {tuple(target.shape)} must be the same as input "
            f"size {tuple(input.shape)}"), 2))
    neg = -input
    softplus_neg = apply("maximum", neg, neg._scalar(0.0)) + apply("log1p", (-input.abs()).exp())  # log(1 + e^-x)
    if pos_weight is not None:
        loss = (1 - target) * input + ((pos_weight - 1) * target + 1) * softplus_neg
    else:
        loss = (1 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# -- regression ----------------------------------------------------------------------------------------------
@autocast_op
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """The mean (or, by ``reduction``, sum or per-element) squared difference; ``weight`` is an Ember
    extra that scales each element before the reduction.

    >>> F.mse_loss(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 4.0]))
    tensor(2.)
    >>> F.mse_loss(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 4.0]), reduction="none")
    tensor([0., 4.])
    """
    reduction = _reduction(reduction, size_average, reduce, "mse_loss")
    input, target = _float_pair(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction)


@autocast_op
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """The mean (or sum, or per-element) absolute difference.

    >>> F.l1_loss(ember.tensor([1.0, 2.0]), ember.tensor([0.0, 4.0]))
    tensor(1.5000)
    """
    reduction = _reduction(reduction, size_average, reduce, "l1_loss")
    input, target = _float_pair(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction)


@autocast_op
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta.

    >>> F.smooth_l1_loss(ember.tensor([0.0, 0.0]), ember.tensor([0.5, 3.0]), reduction="none")
    tensor([0.1250, 2.5000])
    """
    reduction = _reduction(reduction, size_average, reduce, "smooth_l1_loss")
    input, target = _float_pair(input, target, "smooth_l1_loss")
    if beta < 0:
        raise mark(with_user_line(ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}"), 2))
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction)
    loss = apply("where", apply("lt", d, d._scalar(float(beta))), d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction)


@autocast_op
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta).

    >>> F.huber_loss(ember.tensor([0.0, 0.0]), ember.tensor([0.5, 3.0]), reduction="none")
    tensor([0.1250, 2.5000])
    """
    reduction = _reduction(reduction, None, None, "huber_loss")
    input, target = _float_pair(input, target, "huber_loss")
    d = (input - target).abs()
    loss = apply("where", apply("lt", d, d._scalar(float(delta))), d * d * 0.5, (d - 0.5 * delta) * delta)
    return _reduce(loss, reduction)


@autocast_op
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """target * (log target - input) pointwise (``input`` holds log-probabilities); 'batchmean' divides the
    sum by the batch size, which is the mathematically correct KL divergence.

    >>> logq = ember.log(ember.tensor([[0.5, 0.5]]))
    >>> F.kl_div(logq, ember.tensor([[0.9, 0.1]]), reduction="batchmean")
    tensor(0.3681)
    """
    reduction = _reduction(reduction, size_average, reduce, "kl_div", extra=("batchmean",))
    input, target = _float_pair(input, target, "kl_div")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        pos = apply("gt", target, target._scalar(0.0))
        safe = apply("where", pos, target, target._scalar(1.0))
        loss = apply("where", pos, target * (safe.log() - input), target * 0.0 - 0.0 * input)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


@autocast_op
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """``log(1 + exp(-y * x))`` averaged, for labels ``y`` in {-1, 1}.

    >>> F.soft_margin_loss(ember.tensor([2.0, -1.0]), ember.tensor([1.0, -1.0]))
    tensor(0.2201)
    """
    reduction = _reduction(reduction, size_average, reduce, "soft_margin_loss")
    input, target = _float_pair(input, target, "soft_margin_loss")
    return _reduce(apply("log1p", (-target * input).exp()), reduction)


@autocast_op
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """``max(0, -y * (x1 - x2) + margin)`` averaged: ``y = 1`` asks for x1 > x2, ``y = -1`` for x1 < x2.

    >>> F.margin_ranking_loss(ember.tensor([1.0, 1.0]), ember.tensor([0.0, 2.0]), ember.tensor([1.0, 1.0]))
    tensor(0.5000)
    """
    reduction = _reduction(reduction, size_average, reduce, "margin_ranking_loss")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction)


@autocast_op
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """``1 - cos(x1, x2)`` where ``y = 1``, ``max(0, cos(x1, x2) - margin)`` where ``y = -1``
    (rows of (N, D) inputs), averaged.

    >>> a, b = ember.tensor([[1.0, 0.0], [1.0, 0.0]]), ember.tensor([[1.0, 1.0], [0.0, 1.0]])
    >>> F.cosine_embedding_loss(a, b, ember.tensor([1.0, -1.0]), reduction="none")
    tensor([0.2929, 0.0000])
    """
    from .misc import cosine_similarity

    reduction = _reduction(reduction, size_average, reduce, "cosine_embedding_loss")
    cos = cosine_similarity(input1, input2, dim=-1)
    pos = apply("gt", target, target._scalar(0))
    loss = apply("where", pos, 1 - cos, (cos - margin).clamp(min=0.0))
    return _reduce(loss, reduction)


@autocast_op
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log-likelihood of a Poisson target: ``exp(input) - target * input`` when ``log_input``
    (the default), else ``input - target * log(input + eps)``; ``full`` adds Stirling's term.

    >>> F.poisson_nll_loss(ember.tensor([0.0, 1.0]), ember.tensor([1.0, 2.0]))
    tensor(0.8591)
    """
    reduction = _reduction(reduction, size_average, reduce, "poisson_nll_loss")
    input, target = _float_pair(input, target, "poisson_nll_loss")
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        import math

        big = apply("gt", target, target._scalar(1.0))
        safe = apply("where", big, target, target._scalar(2.0))
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + apply("where", big, stirling, stirling * 0.0)
    return _reduce(loss, reduction)
