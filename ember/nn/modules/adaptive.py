"""AdaptiveLogSoftmaxWithLoss (torch.nn.modules.adaptive): Grave et al.'s adaptive softmax for large vocabularies.

Frequent classes (below ``cutoffs[0]``) share a head softmax with one extra entry per cluster of rarer classes;
a class of cluster i has log-probability head[shortlist + i] + log_softmax(tail[i](x))[class - cutoff]. The
forward pass evaluates every cluster densely and picks each row's term with ``where`` (no data-dependent row
selection, so the same program runs eagerly and compiled); the values equal PyTorch's.
"""
from __future__ import annotations

from collections import namedtuple

from ..._state import STATE
from ...errors import mark, with_user_line
from ...functional.math import where
from ...functional.shape import cat
from ..functional.activation import log_softmax
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


def _err(kind, message, skip=3):
    return mark(with_user_line(kind(message), skip))


class AdaptiveLogSoftmaxWithLoss(Module):
    """The adaptive softmax: ``forward(input, target)`` gives ``(output, loss)`` with each row's target
    log-probability and the mean negative log-likelihood; ``log_prob`` gives all classes, ``predict`` the
    most likely one.

    >>> import ember
    >>> from ember import nn
    >>> asm = nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[3, 6], div_value=2.0)
    >>> out = asm(ember.randn(4, 8), ember.tensor([0, 4, 7, 9]))
    >>> out.output.shape, out.loss.shape
    (ember.Size([4]), ember.Size([]))
    >>> asm.log_prob(ember.randn(4, 8)).exp().sum(1).allclose(ember.ones(4))
    True
    >>> asm.predict(ember.randn(4, 8)).shape
    ember.Size([4])
    """

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False, device=None,
                 dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if (not cutoffs or cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise _err(ValueError, f"AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of unique, positive "
                                   "integers sorted in an increasing order, where each value is between 1 and "
                                   f"n_classes-1 ({n_classes - 1}); got {cutoffs}")
        fk = {"device": device, "dtype": dtype}
        self.in_features, self.n_classes, self.div_value, self.head_bias = in_features, n_classes, div_value, \
            head_bias
        self.cutoffs = cutoffs + [n_classes]
        self.shortlist_size, self.n_clusters = self.cutoffs[0], len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, **fk)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, **fk),
                                        Linear(hidden, size, bias=False, **fk)))

    def reset_parameters(self):
        self.head.reset_parameters()
        for proj in self.tail:
            for layer in proj:
                layer.reset_parameters()

    def _batched(self, input, target):
        if target.ndim == 1:
            if input.ndim != 2:
                raise _err(RuntimeError, "AdaptiveLogSoftmaxWithLoss: a 1-D target expects a 2-D input, got input "
                                         f"of shape {tuple(input.shape)}", 4)
            if input.shape[0] != target.shape[0]:
                raise _err(RuntimeError, "AdaptiveLogSoftmaxWithLoss: input and target should have the same size "
                                         f"in the batch dimension, got {tuple(input.shape)} and "
                                         f"{tuple(target.shape)}", 4)
            return input, target
        if target.ndim == 0 and input.ndim == 1:
            return input.unsqueeze(0), target.unsqueeze(0)
        raise _err(RuntimeError, "AdaptiveLogSoftmaxWithLoss: expected a 0-D target with a 1-D input or a 1-D "
                                 f"target with a 2-D input (multi-target is not supported), got target "
                                 f"{tuple(target.shape)} and input {tuple(input.shape)}", 4)

    def forward(self, input, target):
        x, t = self._batched(input, target)
        if STATE.tracer is None and t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.n_classes):
            raise _err(RuntimeError, f"AdaptiveLogSoftmaxWithLoss: target values should be in [0, "
                                     f"{self.n_classes - 1}], but values in range [{int(t.min())}, "
                                     f"{int(t.max())}] were found")
        head_logprob = log_softmax(self.head(x), 1)
        short = self.shortlist_size
        head_index = t.clamp(max=short - 1)  # shortlist rows keep their class, the others get their cluster
        output = None
        for i in range(self.n_clusters):
            low, high = self.cutoffs[i], self.cutoffs[i + 1]
            inside = (t >= low) & (t < high)
            head_index = where(inside, short + i, head_index)
            local = log_softmax(self.tail[i](x), 1).gather(1, (t - low).clamp(0, high - low - 1).unsqueeze(1))
            term = where(inside, local.squeeze(1), 0.0)
            output = term if output is None else output + term
        output = output + head_logprob.gather(1, head_index.unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        return _ASMoutput(output if target.ndim == 1 else output[0], loss)

    def _full_log_prob(self, input, head_output):
        head_logprob = log_softmax(head_output, 1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = log_softmax(self.tail[i](input), 1)
            parts.append(cluster + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, 1)

    def _check_2d(self, input, what):
        if input.ndim != 2:
            raise _err(RuntimeError, f"AdaptiveLogSoftmaxWithLoss.{what}: expected a 2-D input (N, "
                                     f"{self.in_features}), got shape {tuple(input.shape)}", 4)

    def log_prob(self, input):
        """Log-probabilities of all ``n_classes`` classes for each row of an (N, in_features) input."""
        self._check_2d(input, "log_prob")
        return self._full_log_prob(input, self.head(input))

    def predict(self, input):
        """The most likely class of each row (the head's argmax when it is a shortlist class)."""
        self._check_2d(input, "predict")
        head_output = self.head(input)
        best = head_output.argmax(1)
        full = self._full_log_prob(input, head_output).argmax(1)
        return where(best < self.shortlist_size, best, full)
