"""The rest of torch.nn.functional's everyday names: shrinkage and randomized activations, the in-place
activation forms, ``pdist``, ``local_response_norm`` and the metric-learning and margin losses. Composites
of Ember ops, with PyTorch's formulas, defaults and reductions.

>>> import ember
>>> import ember.nn.functional as F
>>> F.softshrink(ember.tensor([-1.0, 0.2, 2.0]))
tensor([-0.5000,  0.0000,  1.5000])
"""
from __future__ import annotations

import math

from ...errors import mark, with_user_line
from ...functional.math import cast, where
from ...ops import apply
from . import activation as _act
from .loss import _float_pair, _reduce, _reduction
from .misc import pairwise_distance

__all__ = ["hardshrink", "softshrink", "rrelu", "rrelu_", "elu_", "selu_", "celu_", "leaky_relu_", "hardtanh_",
           "threshold_", "pdist", "local_response_norm", "triplet_margin_loss", "triplet_margin_with_distance_loss",
           "hinge_embedding_loss", "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss",
           "gaussian_nll_loss", "gumbel_softmax", "lp_pool1d", "lp_pool2d", "lp_pool3d", "ctc_loss"]


def _err(kind, message):
    return mark(with_user_line(kind(message), 3))


def hardshrink(input, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0.

    >>> F.hardshrink(ember.tensor([-1.0, 0.2, 2.0]))
    tensor([-1.,  0.,  2.])
    """
    _act._check(input, "hardshrink")
    return where(apply("le", input.abs(), input._scalar(float(lambd))), 0.0, input)  # NaN stays NaN


def softshrink(input, lambd=0.5):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0.

    >>> F.softshrink(ember.tensor([-1.0, 0.2, 2.0]), lambd=0.5)
    tensor([-0.5000,  0.0000,  1.5000])
    """
    _act._check(input, "softshrink")
    if lambd < 0:
        raise _err(ValueError, f"softshrink: lambd must be non-negative, got {lambd}")
    inside = apply("le", input.abs(), input._scalar(float(lambd)))  # NaN is not inside: it stays NaN
    return where(inside, 0.0, input - apply("sign", input) * lambd)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with a random slope in [lower, upper] per negative element in training, and their mean in
    evaluation.

    >>> F.rrelu(ember.tensor([-3.0, 2.0]))
    tensor([-0.6875,  2.0000])
    """
    _act._check(input, "rrelu")
    if training:
        from ...creation import rand_like

        slope = rand_like(input) * (upper - lower) + lower
    else:
        slope = input._scalar((lower + upper) / 2)
    out = where(apply("ge", input, input._scalar(0.0)), input, input * slope)
    return _act._inplace(input, out, inplace)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """``rrelu`` in place.

    >>> x = ember.tensor([-3.0, 2.0])
    >>> F.rrelu_(x) is x
    True
    """
    return rrelu(input, lower, upper, training, inplace=True)


def _in_place(fn, name):
    def method(input, *args, **kwargs):
        return fn(input, *args, inplace=True, **kwargs)

    method.__name__ = name
    extra = ", 0.5, 0.0" if name == "threshold_" else ""  # threshold's own two arguments
    method.__doc__ = (f"``{fn.__name__}`` in place: ``input`` is overwritten and returned.\n\n"
                      f"    >>> x = ember.tensor([-1.0, 2.0])\n    >>> F.{name}(x{extra}) is x\n    True\n")
    return method


elu_ = _in_place(_act.elu, "elu_")
selu_ = _in_place(_act.selu, "selu_")
celu_ = _in_place(_act.celu, "celu_")
leaky_relu_ = _in_place(_act.leaky_relu, "leaky_relu_")
hardtanh_ = _in_place(_act.hardtanh, "hardtanh_")
threshold_ = _in_place(_act.threshold, "threshold_")


def pdist(input, p=2.0):
    """The ``p``-norm distances between every pair of rows of an (N, M) tensor, as the upper triangle of
    ``cdist(input, input)`` read row by row (N * (N - 1) / 2 values).

    >>> F.pdist(ember.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]))
    tensor([5.0000, 1.0000, 4.2426])
    """
    from ...functional.linalg_more import cdist
    from ...functional.shape_more import triu_indices

    if input.ndim != 2:
        raise _err(RuntimeError, f"pdist: expected a 2-D tensor, got shape {tuple(input.shape)}")
    rows, cols = triu_indices(input.shape[0], input.shape[0], 1, device=input.device)
    return cdist(input, input, p=p)[rows, cols]


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Each element divided by ``(k + alpha * mean of x**2 over `size` neighbouring channels) ** beta``.

    >>> F.local_response_norm(ember.ones(1, 3, 2, 2), size=2).shape
    ember.Size([1, 3, 2, 2])
    """
    if input.ndim < 3:
        raise _err(ValueError, f"local_response_norm: expected a 3-D or higher input (N, C, ...), got shape "
                               f"{tuple(input.shape)}")
    if input.numel() == 0:
        return input
    from ...creation import zeros
    from ...functional.shape import cat, narrow

    sq = input * input
    c = input.shape[1]
    lead, tail = size // 2, (size - 1) // 2
    pad = [zeros(*[n if d != 1 else w for d, n in enumerate(input.shape)], dtype=input.dtype, device=input.device)
           for w in (lead, tail)]
    padded = cat([t for t in (pad[0], sq, pad[1]) if t.shape[1]], 1)
    total = narrow(padded, 1, 0, c)
    for shift in range(1, size):
        total = total + narrow(padded, 1, shift, c)
    return input / (total * (alpha / size) + k) ** beta


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the ``p``-norm distance (``swap``: the harder of
    d(a, n) and d(p, n)).

    >>> a = ember.tensor([[0.0, 0.0]])
    >>> F.triplet_margin_loss(a, ember.tensor([[0.0, 1.0]]), ember.tensor([[3.0, 4.0]]))
    tensor(0.)
    """
    def distance(x, y):
        return pairwise_distance(x, y, p, eps)

    return _triplet(anchor, positive, negative, distance, margin, swap,
                    _reduction(reduction, size_average, reduce, "triplet_margin_loss"))


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """``triplet_margin_loss`` with any ``distance_function(x, y)`` (pairwise L2 by default).

    >>> a = ember.tensor([[0.0, 0.0]])
    >>> dist = lambda x, y: 1.0 - F.cosine_similarity(x + 1, y + 1)
    >>> F.triplet_margin_with_distance_loss(a, a, -a, distance_function=dist).shape
    ember.Size([])
    """
    return _triplet(anchor, positive, negative, distance_function or pairwise_distance, margin, swap, reduction)


def _triplet(anchor, positive, negative, distance, margin, swap, reduction):
    if margin <= 0:
        raise _err(ValueError, f"triplet margin loss: margin must be greater than 0, got {margin}")
    d_pos, d_neg = distance(anchor, positive), distance(anchor, negative)
    if swap:
        d_neg = apply("minimum", d_neg, distance(positive, negative))
    return _reduce((d_pos - d_neg + margin).clamp(min=0.0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """``x`` where the target is 1, ``max(0, margin - x)`` where it is -1.

    >>> F.hinge_embedding_loss(ember.tensor([0.3, 2.0]), ember.tensor([1.0, -1.0]))
    tensor(0.1500)
    """
    reduction = _reduction(reduction, size_average, reduce, "hinge_embedding_loss")
    input, target = _float_pair(input, target, "hinge_embedding_loss")
    margin_part = where(apply("ne", target, target._scalar(1.0)), (margin - input).clamp(min=0.0), 0.0)
    self_part = where(apply("ne", target, target._scalar(-1.0)), input, 0.0)
    return _reduce(margin_part + self_part, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """The multi-class hinge loss: ``sum_{i != y} max(0, margin - x[y] + x[i]) ** p / C`` per sample.

    >>> F.multi_margin_loss(ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([3]))
    tensor(0.3250)
    """
    reduction = _reduction(reduction, size_average, reduce, "multi_margin_loss")
    if p not in (1, 2):
        raise _err(ValueError, f"multi_margin_loss: only p = 1 and p = 2 are supported (as in PyTorch), got {p}")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    y = target.reshape(-1, 1)
    if x.ndim != 2 or y.shape[0] != x.shape[0]:
        raise _err(ValueError, f"multi_margin_loss: expected input (N, C) or (C,) and target (N,), got "
                               f"{tuple(input.shape)} and {tuple(target.shape)}")
    own = x.gather(1, y)
    terms = (margin - own + x).clamp(min=0.0)
    terms = terms * terms if p == 2 else terms
    if weight is not None:
        terms = terms * cast(weight, x.dtype)[target.reshape(-1)].reshape(-1, 1)
    from ...creation import arange

    others = apply("ne", arange(x.shape[1], device=x.device).reshape(1, -1), y)  # i != y
    loss = where(others, terms, 0.0).sum(1) / x.shape[1]
    return _reduce(loss if input.ndim == 2 else loss.reshape(()), reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """The multi-label hinge loss: each row of ``target`` lists class indices (ended by the first -1); per
    sample ``sum over listed j, unlisted i of max(0, 1 - (x[j] - x[i])) / C``.

    >>> F.multilabel_margin_loss(ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([[3, 0, -1, 1]]))
    tensor(0.8500)
    """
    reduction = _reduction(reduction, size_average, reduce, "multilabel_margin_loss")
    if input.ndim > 2 or (input.ndim and input.shape[-1] == 0):
        raise _err(RuntimeError, "multilabel_margin_loss: expected a non-empty vector or matrix input (C,) or "
                                 f"(N, C), got shape {tuple(input.shape)}")
    if tuple(target.shape) != tuple(input.shape):
        raise _err(RuntimeError, f"multilabel_margin_loss: target of shape {tuple(target.shape)} must have the "
                                 f"input's shape {tuple(input.shape)} (class indices, padded with -1)")
    if target._data.dtype.kind not in "iu":
        raise _err(RuntimeError, f"multilabel_margin_loss: target must be an int64 tensor of class indices, got "
                                 f"{target.dtype.name}")
    cols = input.shape[-1] if input.ndim else 1
    return _multilabel_margin(input.reshape(-1, cols), target.reshape(-1, cols), input, reduction)


def _multilabel_margin(x, y, input, reduction):
    from ..._state import STATE
    from ...creation import arange

    c = x.shape[1]
    if STATE.tracer is None and y.numel() and (int(y.max()) >= c or int(y.min()) < -1):
        raise _err(RuntimeError, f"multilabel_margin_loss: target holds a class index out of range [-1, {c}) "
                                 f"for input of shape {tuple(input.shape)}")
    listed = (y >= 0).long().cumprod(1) > 0  # the targets before the first -1
    cls = y.clamp(min=0)
    hit = (cls.unsqueeze(-1) == arange(c, device=x.device)) & listed.unsqueeze(-1)  # (N, J, C)
    is_target = hit.any(1)
    own = x.gather(1, cls)  # (N, J)
    margins = (1.0 - (own.unsqueeze(-1) - x.unsqueeze(1))).clamp(min=0.0)
    keep = listed.unsqueeze(-1) & ~is_target.unsqueeze(1)
    loss = where(keep, margins, 0.0).sum((1, 2)) / c
    return _reduce(loss if input.ndim == 2 else loss.reshape(()), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Per-class logistic loss averaged over the C classes of each sample (targets in {0, 1}).

    >>> F.multilabel_soft_margin_loss(ember.tensor([[0.0, 2.0]]), ember.tensor([[0.0, 1.0]]))
    tensor(0.4100)
    """
    reduction = _reduction(reduction, size_average, reduce, "multilabel_soft_margin_loss")
    input, target = _float_pair(input, target, "multilabel_soft_margin_loss")
    loss = -(target * _act.logsigmoid(input) + (1 - target) * _act.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(-1) / input.shape[-1] if input.ndim else loss
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """The negative log-likelihood of ``target`` under Gaussians of mean ``input`` and variance ``var``:
    ``0.5 * (log(var) + (input - target)**2 / var)`` (+ ``0.5 * log(2 pi)`` with ``full``). ``var`` below
    ``eps`` counts as ``eps`` (the gradient still reaches it, as in PyTorch).

    >>> F.gaussian_nll_loss(ember.tensor([0.0]), ember.tensor([1.0]), ember.tensor([1.0]))
    tensor(0.5000)
    """
    if isinstance(var, (int, float)):
        var = input._scalar(float(var)).expand(*input.shape)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise _err(ValueError, f"gaussian_nll_loss: var of shape {tuple(var.shape)} does not match input "
                                   f"{tuple(input.shape)} (give one variance per element, per sample, or per "
                                   "sample with a trailing 1)")
    if reduction not in ("none", "mean", "sum"):
        raise _err(ValueError, f"gaussian_nll_loss: {reduction!r} is not a valid value for reduction")
    apply("assert_all", apply("ge", var, var._scalar(0.0)), error="ValueError",
          message="gaussian_nll_loss: var has negative entry/entries")
    floor = var.clamp(min=eps)
    var = var + (floor - var).detach()  # clamped value, identity gradient (PyTorch clamps under no_grad)
    loss = 0.5 * (apply("log", var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """A sample from the Gumbel-softmax (concrete) distribution over ``dim``: ``softmax((logits + g) / tau)``
    with Gumbel noise ``g``; ``hard=True`` returns the one-hot argmax with the soft sample's gradient
    (straight-through).

    >>> y = F.gumbel_softmax(ember.zeros(2, 5), tau=0.5, hard=True)
    >>> y.sum(-1).tolist()
    [1.0, 1.0]
    """
    from ...creation import rand_like
    from ...functional.linalg import softmax

    _act._check(logits, "gumbel_softmax")
    exponential = -apply("log1p", -rand_like(logits))  # -log(1 - U): Exp(1), U in [0, 1)
    noisy = (logits - apply("log", exponential)) / tau
    soft = softmax(noisy, dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    one_hot = (soft.detach() * 0).scatter(dim % soft.ndim, index, 1.0)
    return one_hot - soft.detach() + soft


def _lp_pool(name, nd, input, norm_type, kernel_size, stride, ceil_mode):
    from .pooling import avg_pool1d, avg_pool2d, avg_pool3d

    kernel = (kernel_size,) * nd if isinstance(kernel_size, int) else tuple(kernel_size)
    pooled = (avg_pool1d, avg_pool2d, avg_pool3d)[nd - 1](input ** norm_type, kernel_size, stride, 0, ceil_mode)
    # the window sum's root, as PyTorch computes it (a negative sum with an odd p gives NaN there too)
    return (pooled * math.prod(kernel)) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The ``norm_type``-norm of each window of an (N, C, L) input (the sum for ``norm_type=1``).

    >>> F.lp_pool1d(ember.tensor([[[3.0, 4.0]]]), 2, 2)
    tensor([[[5.]]])
    """
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The ``norm_type``-norm of each window of an (N, C, H, W) input.

    >>> F.lp_pool2d(ember.ones(1, 1, 2, 2), 1, 2)
    tensor([[[[4.]]]])
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The ``norm_type``-norm of each window of an (N, C, D, H, W) input.

    >>> F.lp_pool3d(ember.ones(1, 1, 2, 2, 2), 2, 2)
    tensor([[[[[2.8284]]]]])
    """
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """The connectionist temporal classification loss: ``-log`` of the total probability of every alignment
    of each target to its ``log_probs`` (T, N, C) frames, by the forward (alpha) recursion in log space over
    the blank-interleaved targets. ``targets`` (N, S) padded, or the N targets concatenated in 1-D.
    ``reduction="mean"`` divides each loss by its target length, then averages (as PyTorch).

    >>> lp = ember.randn(6, 2, 4).log_softmax(2)
    >>> F.ctc_loss(lp, ember.tensor([[1, 2], [3, 3]]), ember.tensor([6, 5]), ember.tensor([2, 2])).shape
    ember.Size([])
    """
    from ...creation import arange, as_tensor, full, zeros
    from ...functional.math_more import logaddexp
    from ...functional.shape import cat, stack

    if log_probs.ndim != 3:
        raise _err(ValueError, f"ctc_loss: expected log_probs (T, N, C), got shape {tuple(log_probs.shape)}")
    t_max, n, _ = log_probs.shape
    in_len = [int(v) for v in as_tensor(input_lengths).reshape(-1).tolist()]
    tg_len = [int(v) for v in as_tensor(target_lengths).reshape(-1).tolist()]
    if targets.ndim == 1:  # concatenated: split by the lengths
        starts = [sum(tg_len[:i]) for i in range(n)]
        rows = [targets[s:s + k] for s, k in zip(starts, tg_len)]
    else:
        rows = [targets[i, :k] for i, k in enumerate(tg_len)]
    s_max = max(tg_len + [0])
    width = 2 * s_max + 1
    ext = full((n, width), blank, dtype="int64", device=log_probs.device)  # blank, l1, blank, l2, ..., blank
    labels = stack([cat([r.to("int64"), full((s_max - r.shape[0],), blank, dtype="int64", device=log_probs.device)])
                    for r in rows]) if s_max else None
    if s_max:
        odd = arange(s_max, device=log_probs.device) * 2 + 1
        ext = ext.index_put((arange(n, device=log_probs.device).reshape(-1, 1), odd.reshape(1, -1)), labels)
    before = cat([full((n, 2), -1, dtype="int64", device=log_probs.device), ext[:, :-2]], 1)
    skip = apply("logical_and", apply("ne", ext, ext._scalar(blank)), apply("ne", ext, before))
    frames = log_probs.gather(2, ext.unsqueeze(0).expand(t_max, n, width))  # (T, N, width)
    neg = full((n, width), float("-inf"), dtype=log_probs.dtype, device=log_probs.device)
    start = arange(width, device=log_probs.device).reshape(1, -1) < 2
    alpha = where(start, frames[0], neg)
    lengths = as_tensor(in_len, device=log_probs.device).reshape(-1, 1)
    for t in range(1, t_max):
        one = cat([neg[:, :1], alpha[:, :-1]], 1)
        two = where(skip, cat([neg[:, :2], alpha[:, :-2]], 1), neg)
        step = logaddexp(logaddexp(alpha, one), two) + frames[t]
        alpha = where(lengths > t, step, alpha)  # a sequence that has ended keeps its last alpha
    last = as_tensor([2 * k for k in tg_len], device=log_probs.device).reshape(-1, 1)
    end_blank = alpha.gather(1, last).reshape(-1)
    end_label = alpha.gather(1, (last - 1).clamp(min=0)).reshape(-1)
    has_label = as_tensor([k > 0 for k in tg_len], device=log_probs.device)
    loss = -where(has_label, logaddexp(end_blank, end_label), end_blank)
    if zero_infinity:
        loss = where(apply("eq", loss, loss._scalar(float("inf"))), zeros(n, dtype=loss.dtype), loss)
    if reduction == "mean":
        return (loss / as_tensor([max(k, 1) for k in tg_len], dtype=loss.dtype, device=loss.device)).mean()
    if reduction == "sum":
        return loss.sum()
    return loss
