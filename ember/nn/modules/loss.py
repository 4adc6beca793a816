"""Loss layers: Modules over ``ember.nn.functional``'s losses, with PyTorch's constructor arguments."""
from __future__ import annotations

import warnings

from .. import functional as F
from ..functional.loss import _reduction
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss",
           "BCEWithLogitsLoss", "KLDivLoss", "SoftMarginLoss", "MarginRankingLoss", "CosineEmbeddingLoss",
           "PoissonNLLLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss", "HingeEmbeddingLoss",
           "MultiMarginLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "NLLLoss2d", "GaussianNLLLoss",
           "CTCLoss"]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = _reduction(reduction, size_average, reduce, type(self).__name__,
                                          extra=("batchmean",))
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """log_softmax + NLL over class indices (N,) / (N, d1, ...) or class probabilities shaped like the input.

    >>> import ember
    >>> from ember import nn
    >>> loss = nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> out = loss(ember.randn(3, 5, requires_grad=True), ember.tensor([1, 0, 4]))
    >>> out.backward()
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (pair it with LogSoftmax).

    >>> import ember
    >>> from ember import nn
    >>> nn.NLLLoss()(ember.randn(3, 5).log_softmax(1), ember.tensor([1, 0, 4])).shape
    ember.Size([])
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class NLLLoss2d(NLLLoss):
    """Deprecated: NLLLoss (which takes (N, C, H, W) inputs itself); constructing one warns as PyTorch does.

    >>> import warnings, ember
    >>> from ember import nn
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     loss = nn.NLLLoss2d()
    >>> loss(ember.zeros(1, 3, 2, 2).log_softmax(1), ember.zeros(1, 2, 2).long())
    tensor(1.0986)
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        warnings.warn("`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead as a drop-in replacement "
                      "(it takes (N, C, H, W) inputs).", FutureWarning, stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)


def _pair_loss(name, fn, doc, extra=()):
    names = tuple(k for k, _ in extra)

    def __init__(self, *args, **kwargs):
        legacy = {k: kwargs.pop(k) for k in ("size_average", "reduce") if k in kwargs}
        values = dict(extra)
        values["reduction"] = "mean"
        order = ("size_average", "reduce", "reduction") + names if name not in ("HuberLoss",) else \
            ("reduction",) + names
        for k, v in zip(order, args):
            if k in ("size_average", "reduce"):
                legacy[k] = v
            else:
                values[k] = v
        values.update(kwargs)
        _Loss.__init__(self, legacy.get("size_average"), legacy.get("reduce"), values.pop("reduction"))
        for k in names:
            setattr(self, k, values[k])

    def forward(self, input, target):
        return fn(input, target, reduction=self.reduction, **{k: getattr(self, k) for k in names})

    example = (f"\n\n    >>> import ember\n    >>> from ember import nn\n    >>> nn.{name}()(ember.rand(4), "
               "ember.rand(4)).shape\n    ember.Size([])\n")
    return type(name, (_Loss,), {"__init__": __init__, "forward": forward, "__doc__": doc + example,
                                 "__module__": __name__})


MSELoss = _pair_loss("MSELoss", F.mse_loss, "Mean squared error.")
L1Loss = _pair_loss("L1Loss", F.l1_loss, "Mean absolute error.")
SmoothL1Loss = _pair_loss("SmoothL1Loss", F.smooth_l1_loss, "Quadratic below ``beta``, linear above.",
                          (("beta", 1.0),))
HuberLoss = _pair_loss("HuberLoss", F.huber_loss, "Quadratic below ``delta``, delta-scaled linear above.",
                       (("delta", 1.0),))
KLDivLoss = _pair_loss("KLDivLoss", F.kl_div, "KL divergence of log-probability inputs from target "
                       "probabilities (``log_target`` for log-probability targets).", (("log_target",
                                                                                        False),))
SoftMarginLoss = _pair_loss("SoftMarginLoss", F.soft_margin_loss, "log(1 + exp(-y x)).")
PoissonNLLLoss = _pair_loss("PoissonNLLLoss", F.poisson_nll_loss, "Poisson negative log-likelihood.",
                            (("log_input", True), ("full", False), ("eps", 1e-8)))


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (inputs in [0, 1]).

    >>> import ember
    >>> from ember import nn
    >>> nn.BCELoss()(ember.tensor([0.9, 0.2]), ember.tensor([1.0, 0.0])).shape
    ember.Size([])
    """

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy, numerically stable; ``pos_weight`` weights the positive class.

    >>> import ember
    >>> from ember import nn
    >>> loss = nn.BCEWithLogitsLoss(pos_weight=ember.tensor([2.0]))
    >>> loss(ember.tensor([0.5, -1.0]), ember.tensor([1.0, 0.0])).shape
    ember.Size([])
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class MarginRankingLoss(_Loss):
    """max(0, -y (x1 - x2) + margin).

    >>> import ember
    >>> from ember import nn
    >>> nn.MarginRankingLoss()(ember.randn(3), ember.randn(3), ember.tensor([1.0, -1.0, 1.0])).shape
    ember.Size([])
    """

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, self.margin, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) for y = 1, max(0, cos(x1, x2) - margin) for y = -1.

    >>> import ember
    >>> from ember import nn
    >>> nn.CosineEmbeddingLoss()(ember.randn(3, 4), ember.randn(3, 4), ember.tensor([1, -1, 1])).shape
    ember.Size([])
    """

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """``max(d(a, p) - d(a, n) + margin, 0)`` over (anchor, positive, negative) embeddings.

    >>> import ember
    >>> from ember import nn
    >>> nn.TripletMarginLoss(margin=1.0)(ember.randn(4, 8), ember.randn(4, 8), ember.randn(4, 8)).shape
    ember.Size([])
    """

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """The triplet loss with any ``distance_function`` (pairwise L2 by default).

    >>> import ember
    >>> from ember import nn
    >>> loss = nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance(p=1.0))
    >>> loss(ember.randn(4, 8), ember.randn(4, 8), ember.randn(4, 8)).shape
    ember.Size([])
    """

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction=reduction)
        self.distance_function, self.margin, self.swap = distance_function, margin, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                   distance_function=self.distance_function, margin=self.margin,
                                                   swap=self.swap, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """``x`` for targets 1, ``max(0, margin - x)`` for targets -1 (x: a distance).

    >>> import ember
    >>> from ember import nn
    >>> nn.HingeEmbeddingLoss()(ember.tensor([0.3, 2.0]), ember.tensor([1.0, -1.0]))
    tensor(0.1500)
    """

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """The multi-class hinge loss over class indices.

    >>> import ember
    >>> from ember import nn
    >>> nn.MultiMarginLoss()(ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([3]))
    tensor(0.3250)
    """

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                   reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """The multi-label hinge loss; each target row lists class indices, ended by the first -1.

    >>> import ember
    >>> from ember import nn
    >>> nn.MultiLabelMarginLoss()(ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([[3, 0, -1, 1]]))
    tensor(0.8500)
    """

    def forward(self, input, target):
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Per-class logistic loss for multi-label targets in {0, 1}, averaged over classes.

    >>> import ember
    >>> from ember import nn
    >>> nn.MultiLabelSoftMarginLoss()(ember.tensor([[0.0, 2.0]]), ember.tensor([[0.0, 1.0]]))
    tensor(0.4100)
    """

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """The Gaussian negative log-likelihood of targets given predicted means and variances.

    >>> import ember
    >>> from ember import nn
    >>> nn.GaussianNLLLoss()(ember.tensor([0.0]), ember.tensor([1.0]), ember.tensor([1.0]))
    tensor(0.5000)
    """

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class CTCLoss(_Loss):
    """The connectionist temporal classification loss over (T, N, C) log-probabilities (speech, handwriting).

    >>> import ember
    >>> from ember import nn
    >>> lp = ember.randn(6, 2, 4).log_softmax(2)
    >>> nn.CTCLoss()(lp, ember.tensor([[1, 2], [3, 3]]), ember.tensor([6, 5]), ember.tensor([2, 2])).shape
    ember.Size([])
    """

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)
