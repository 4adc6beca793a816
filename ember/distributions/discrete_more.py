"""Counting distributions: Poisson, Geometric, Binomial, NegativeBinomial, Multinomial, and
OneHotCategoricalStraightThrough (PyTorch's parametrisations and formulas).

>>> import ember
>>> Poisson(2.0).log_prob(ember.tensor(1.0))
tensor(-1.3069)
"""
from __future__ import annotations

import math

from ..special import lgamma, xlogy
from ..tensor import Size
from . import constraints
from .discrete import Categorical, OneHotCategorical, _one_of, _ProbsLogits
from .distribution import Distribution, _err, _finfo, broadcast_all, check_values
from .gamma_family import ExponentialFamily


def _draw(kind, *params, shape):
    """A draw of ``kind`` from Ember's generator, parameters broadcast to ``shape`` (no gradient)."""
    from ..autograd import no_grad
    from ..ops import apply

    like = params[0]
    with no_grad():
        return apply(kind, *(p.detach() for p in params), shape=tuple(shape), dtype=like.dtype.name,
                     device=str(like.device))


class Poisson(ExponentialFamily):
    """The number of events in a unit interval at ``rate`` events per interval.

    >>> Poisson(3.0).variance
    tensor(3.)
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    mean = property(lambda self: self.rate)
    mode = property(lambda self: self.rate.floor())
    variance = property(lambda self: self.rate)

    def sample(self, sample_shape=Size()):
        return _draw("poisson", self.rate, shape=self._extended_shape(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return xlogy(value, rate) - rate - lgamma(value + 1)

    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        return x.exp()

    def entropy(self):
        raise _err(NotImplementedError, "Poisson.entropy has no closed form (PyTorch does not implement it either)")


class _BinaryProbs(_ProbsLogits):
    _binary = True

    def _set_probs_logits(self, name, probs, logits, *others):
        _one_of(name, probs, logits)
        vals = broadcast_all(probs if probs is not None else logits, *others)
        if probs is not None:
            self._probs = vals[0]
        else:
            self._logits = vals[0]
        return vals

    def _check_probs(self, name):
        if "_probs" in self.__dict__:
            check_values(constraints.unit_interval.check(self._probs.detach()), self._probs,
                         f"{name}: expected probs in [0, 1], got {{value}}")


class Geometric(_BinaryProbs, Distribution):
    """The number of failures before the first success in Bernoulli(``probs``) trials.

    >>> Geometric(probs=0.25).mean
    tensor(3.)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        (given,) = self._set_probs_logits("Geometric", probs, logits)
        super().__init__(given.shape, validate_args=validate_args)

    def _check_parameters(self):
        self._check_probs("Geometric")
        if "_probs" in self.__dict__:
            check_values(self._probs.detach() > 0, self._probs, "Geometric: expected probs > 0, got {value}")

    mean = property(lambda self: 1.0 / self.probs - 1.0)
    mode = property(lambda self: self.probs * 0)
    variance = property(lambda self: (1.0 / self.probs - 1.0) / self.probs)

    def sample(self, sample_shape=Size()):
        from ..autograd import no_grad
        from ..creation import rand

        with no_grad():
            shape = tuple(self._extended_shape(sample_shape))
            p = self.probs.detach()
            u = rand(*shape, dtype=p.dtype, device=p.device).clamp(min=float(_finfo(p).tiny))
            return (u.log() / (-p).log1p()).floor()  # inverse CDF of the failure count

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # p == 1 and value == 0: the 0 * log(0) term is 0, so mask p before log1p(-p)
        probs = probs.where(~((probs == 1) & (value == 0)), probs * 0)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        from ..nn.functional import binary_cross_entropy_with_logits

        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none") / self.probs


def _clamp_by_zero(x):
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2  # max(x, 0) with gradient 1/2 at 0


class Binomial(_BinaryProbs, Distribution):
    """The number of successes in ``total_count`` Bernoulli(``probs``) trials.

    >>> import ember
    >>> Binomial(10, probs=ember.tensor(0.3)).mean
    tensor(3.)
    """

    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        given, self.total_count = self._set_probs_logits("Binomial", probs, logits, total_count)
        self.total_count = self.total_count.to(given.dtype)
        super().__init__(given.shape, validate_args=validate_args)

    def _check_parameters(self):
        self._check_probs("Binomial")
        check_values(constraints.nonnegative_integer.check(self.total_count.detach()), self.total_count,
                     "Binomial: expected total_count to be a non-negative integer, got {value}")

    @property
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    mean = property(lambda self: self.total_count * self.probs)
    mode = property(lambda self: ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count))
    variance = property(lambda self: self.total_count * self.probs * (1 - self.probs))

    def sample(self, sample_shape=Size()):
        return _draw("binomial", self.total_count, self.probs, shape=self._extended_shape(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        log_norm = n * _clamp_by_zero(logits) + n * (-logits.abs()).exp().log1p() - lgamma(n + 1)
        return value * logits - lgamma(value + 1) - lgamma(n - value + 1) - log_norm

    def _homogeneous_count(self, what):
        n = int(self.total_count.max().item())
        if int(self.total_count.min().item()) != n:
            raise _err(NotImplementedError, f"Binomial.{what}: inhomogeneous total_count is not supported (the "
                                            "support must be the same for the whole batch)", 4)
        return n

    def enumerate_support(self, expand=True):
        from ..creation import arange

        n = self._homogeneous_count("enumerate_support")
        values = arange(n + 1, dtype=self.total_count.dtype).reshape(-1, *([1] * len(self._batch_shape)))
        return values.expand(-1, *self._batch_shape) if expand else values

    def entropy(self):
        self._homogeneous_count("entropy")
        lp = self.log_prob(self.enumerate_support(False))
        return -(lp.exp() * lp).sum(0)


class NegativeBinomial(_BinaryProbs, Distribution):
    """The number of successes before ``total_count`` failures, each trial a success with ``probs``.

    >>> NegativeBinomial(3.0, probs=0.5).mean
    tensor(3.)
    """

    arg_constraints = {"total_count": constraints.greater_than_eq(0), "probs": constraints.half_open_interval(0.0,
                                                                                                            1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        given, self.total_count = self._set_probs_logits("NegativeBinomial", probs, logits, total_count)
        self.total_count = self.total_count.to(given.dtype)
        super().__init__(given.shape, validate_args=validate_args)

    def _check_parameters(self):
        if "_probs" in self.__dict__:
            p = self._probs
            check_values((p.detach() >= 0) & (p.detach() < 1), p,
                         "NegativeBinomial: expected probs in [0, 1), got {value}")
        check_values(self.total_count.detach() >= 0, self.total_count,
                     "NegativeBinomial: expected total_count >= 0, got {value}")

    mean = property(lambda self: self.total_count * self.logits.exp())
    mode = property(lambda self: ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0))
    variance = property(lambda self: self.mean / (-self.logits).sigmoid())

    def sample(self, sample_shape=Size()):
        from .gamma_family import Gamma

        shape = self._extended_shape(sample_shape)
        rate = Gamma(self.total_count, (-self.logits).exp(), validate_args=False).sample(sample_shape)
        return _draw("poisson", rate, shape=shape)  # a gamma-Poisson mixture

    def log_prob(self, value):
        from ..nn.functional import logsigmoid

        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        log_unnorm = n * logsigmoid(-logits) + value * logsigmoid(logits)
        log_norm = -lgamma(n + value) + lgamma(1.0 + value) + lgamma(n)
        log_norm = log_norm.where(n + value != 0, log_norm * 0)  # 0 failures needed, none seen: probability 1
        return log_unnorm - log_norm


class Multinomial(Distribution):
    """Counts of ``total_count`` draws from ``K`` categories (event shape ``(K,)``).

    >>> import ember
    >>> Multinomial(4, probs=ember.tensor([0.5, 0.5])).mean
    tensor([2., 2.])
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise _err(NotImplementedError, "Multinomial: inhomogeneous total_count is not supported; pass a "
                                            f"Python int, got {type(total_count).__name__}")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits, validate_args=validate_args)
        self._binomial = Binomial(total_count=total_count, probs=self._categorical.probs, validate_args=False)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def _check_parameters(self):
        pass  # the Categorical checked probs/logits

    probs = property(lambda self: self._categorical.probs)
    logits = property(lambda self: self._categorical.logits)
    mean = property(lambda self: self.probs * self.total_count)
    variance = property(lambda self: self.total_count * self.probs * (1 - self.probs))

    @property
    def support(self):
        return constraints.multinomial(self.total_count)

    def sample(self, sample_shape=Size()):
        from ..nn.functional import one_hot

        shape = tuple(Size(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,))
        idx = self._categorical.sample((self.total_count,) + shape)  # one category per trial
        k = self._event_shape[0]
        return one_hot(idx, k).to(self.probs.dtype).sum(0)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        logits = logits.where(~((value == 0) & (logits == -math.inf)), logits * 0)  # 0 * log 0 = 0
        return lgamma(value.sum(-1) + 1) - lgamma(value + 1).sum(-1) + (logits * value).sum(-1)

    def entropy(self):
        n = self.probs.new_full((), float(self.total_count))
        term1 = n * self._categorical.entropy() - lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        probs = self._binomial.log_prob(support).exp()
        return term1 + (probs * lgamma(support + 1)).sum((0, -1)) if support.shape[0] else term1


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """One-hot categorical samples whose ``rsample`` passes gradients straight through to the probabilities
    (the forward value is the hard sample; the backward is that of ``probs``).

    >>> import ember
    >>> d = OneHotCategoricalStraightThrough(logits=ember.zeros(3, requires_grad=True))
    >>> d.rsample().sum().requires_grad
    True
    """

    has_rsample = True

    def rsample(self, sample_shape=Size()):
        hard = self.sample(sample_shape)
        probs = self._categorical.probs
        return hard + (probs - probs.detach())
