"""Continuous relaxations of discrete choices (Concrete / Gumbel-softmax): RelaxedBernoulli,
RelaxedOneHotCategorical and their logit-space bases, all reparameterised.

>>> import ember
>>> d = RelaxedBernoulli(ember.tensor(0.5), probs=ember.tensor([0.2, 0.9]))
>>> d.rsample((3,)).shape
ember.Size([3, 2])
"""
from __future__ import annotations

from ..special import lgamma
from ..tensor import Size
from . import constraints
from .discrete import Categorical, _one_of, _ProbsLogits
from .distribution import Distribution, _finfo, as_float_tensor, broadcast_all, check_values
from .transformed import TransformedDistribution
from .transforms import ExpTransform, SigmoidTransform


def _clamp_probs(p):
    eps = float(_finfo(p).eps)
    return p.clamp(eps, 1 - eps)


class LogitRelaxedBernoulli(_ProbsLogits, Distribution):
    """The logit of a RelaxedBernoulli sample: ``(logit(u) + logits) / temperature``.

    >>> import ember
    >>> LogitRelaxedBernoulli(ember.tensor(1.0), logits=ember.tensor(0.0)).log_prob(ember.tensor(0.0))
    tensor(-1.3863)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True
    _binary = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        _one_of("LogitRelaxedBernoulli", probs, logits)
        self.temperature = as_float_tensor(temperature)
        (given,) = broadcast_all(probs if probs is not None else logits)
        if probs is not None:
            self._probs = given
        else:
            self._logits = given
        super().__init__(given.shape, validate_args=validate_args)

    def _check_parameters(self):
        if "_probs" in self.__dict__:
            check_values(constraints.unit_interval.check(self._probs.detach()), self._probs,
                         "LogitRelaxedBernoulli: expected probs in [0, 1], got {value}")

    def rsample(self, sample_shape=Size()):
        from ..creation import rand

        shape = tuple(self._extended_shape(sample_shape))
        probs = _clamp_probs(self.probs.expand(*shape))
        u = _clamp_probs(rand(*shape, dtype=probs.dtype, device=probs.device))
        return (u.log() - (-u).log1p() + probs.log() - (-probs).log1p()) / self.temperature

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        diff = logits - value * self.temperature
        return self.temperature.log() + diff - 2 * diff.exp().log1p()


class RelaxedBernoulli(TransformedDistribution):
    """A relaxed 0/1 outcome in (0, 1): ``sigmoid`` of a LogitRelaxedBernoulli sample; lower ``temperature``
    pushes samples toward 0 and 1."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = LogitRelaxedBernoulli(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)

    def _check_parameters(self):
        pass  # the base distribution checked probs

    temperature = property(lambda self: self.base_dist.temperature)
    probs = property(lambda self: self.base_dist.probs)
    logits = property(lambda self: self.base_dist.logits)


class ExpRelaxedCategorical(Distribution):
    """The log of a RelaxedOneHotCategorical sample (a point of the log-simplex), event shape ``(K,)``.

    >>> import ember
    >>> d = ExpRelaxedCategorical(ember.tensor(1.0), logits=ember.zeros(3))
    >>> round(d.rsample().exp().sum().item(), 4)
    1.0
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        self.temperature = as_float_tensor(temperature)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def _check_parameters(self):
        pass  # the Categorical checked probs

    probs = property(lambda self: self._categorical.probs)
    logits = property(lambda self: self._categorical.logits)
    param_shape = property(lambda self: self._categorical.param_shape)

    def rsample(self, sample_shape=Size()):
        from ..creation import rand

        shape = tuple(self._extended_shape(sample_shape))
        u = _clamp_probs(rand(*shape, dtype=self.logits.dtype, device=self.logits.device))
        gumbels = -((-u.log()).log())
        scores = (self.logits + gumbels) / self.temperature
        return scores - scores.logsumexp(-1, keepdim=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k = self._categorical._num_events
        t = self.temperature
        log_scale = lgamma(t * 0 + float(k)) + t.log() * (k - 1)
        score = self.logits - value * t
        score = (score - score.logsumexp(-1, keepdim=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(TransformedDistribution):
    """A relaxed one-hot vector on the simplex (Gumbel-softmax): ``exp`` of an ExpRelaxedCategorical sample.

    >>> import ember
    >>> d = RelaxedOneHotCategorical(ember.tensor(0.5), probs=ember.tensor([0.1, 0.9]))
    >>> round(d.rsample().sum().item(), 4)
    1.0
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    def _check_parameters(self):
        pass

    temperature = property(lambda self: self.base_dist.temperature)
    probs = property(lambda self: self.base_dist.probs)
    logits = property(lambda self: self.base_dist.logits)
