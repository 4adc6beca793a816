"""Discrete distributions: Bernoulli, Categorical, OneHotCategorical (PyTorch's parametrisations)."""
from __future__ import annotations

from ..tensor import Size, Tensor
from . import constraints
from .distribution import Distribution, _err, _finfo, broadcast_all, check_values, logits_to_probs, probs_to_logits


def _one_of(name, probs, logits):
    if (probs is None) == (logits is None):
        raise _err(ValueError, f"{name}: pass either probs or logits, not both and not neither", 4)


class _ProbsLogits:
    """Lazy conversion between ``probs`` and ``logits`` (whichever was not given is derived on first use)."""

    _binary = False

    @property
    def probs(self):
        if "_probs" in self.__dict__:
            return self._probs
        return self._derived("_probs", logits_to_probs(self._logits, self._binary), self._logits)

    @property
    def logits(self):
        if "_logits" in self.__dict__:
            return self._logits
        return self._derived("_logits", probs_to_logits(self._probs, self._binary), self._probs)

    def _derived(self, name, value, source):
        """Cache ``value`` unless it was computed under no_grad from a tensor that needs gradients (a sample
        drawn first must not leave a gradient-free ``probs`` behind for a later ``rsample``/``log_prob``)."""
        if value.requires_grad or not source.requires_grad:
            self.__dict__[name] = value
        return value


class Bernoulli(_ProbsLogits, Distribution):
    """A 0/1 outcome with success probability ``probs`` (or ``logits``: log-odds).

    >>> import ember
    >>> Bernoulli(probs=ember.tensor(0.25)).log_prob(ember.tensor(1.0))
    tensor(-1.3863)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _binary = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of("Bernoulli", probs, logits)
        if probs is not None:
            (self._probs,) = broadcast_all(probs)
            shape = self._probs.shape
        else:
            (self._logits,) = broadcast_all(logits)
            shape = self._logits.shape
        super().__init__(shape, validate_args=validate_args)

    def _check_parameters(self):
        value, c = (self._probs, constraints.unit_interval) if "_probs" in self.__dict__ else (self._logits, None)
        if c is not None:
            check_values(c.check(value.detach()), value, "Bernoulli: expected probs in [0, 1], got {value}")

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return (self.probs >= 0.5).to(self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()):
        from ..autograd import no_grad
        from ..creation import rand

        with no_grad():
            p = self.probs.detach().expand(*self._extended_shape(sample_shape))
            return (rand(*p.shape, dtype=p.dtype, device=p.device) < p).to(p.dtype)

    def log_prob(self, value):
        from ..nn.functional import binary_cross_entropy_with_logits

        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        from ..nn.functional import binary_cross_entropy_with_logits

        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        from ..creation import tensor

        values = tensor([0.0, 1.0], dtype=self.probs.dtype).reshape(2, *([1] * len(self._batch_shape)))
        return values.expand(2, *self._batch_shape) if expand else values


class Categorical(_ProbsLogits, Distribution):
    """One of ``K`` categories with probabilities ``probs`` (normalised over the last dim) or unnormalised
    log-probabilities ``logits``. Samples are int64 category indices.

    >>> import ember
    >>> d = Categorical(logits=ember.zeros(4))
    >>> d.entropy()
    tensor(1.3863)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of("Categorical", probs, logits)
        given = probs if probs is not None else logits
        if not isinstance(given, Tensor) or given.ndim < 1:
            raise _err(ValueError, "Categorical: probs/logits must be a tensor with at least one dimension (the "
                                   f"categories), got {given!r}")
        if probs is not None:
            if self._should_validate(validate_args):
                check_values(probs.detach() >= 0, probs, "Categorical: probs must be non-negative, got {value}")
            self._probs = probs / probs.sum(-1, keepdim=True)
        else:
            self._logits = logits - logits.logsumexp(-1, keepdim=True)
        self._num_events = given.shape[-1]
        super().__init__(given.shape[:-1], validate_args=validate_args)

    @staticmethod
    def _should_validate(validate_args):
        from .distribution import _VALIDATE

        return _VALIDATE[0] if validate_args is None else validate_args

    def _check_parameters(self):
        pass  # probs were checked (and normalised) in __init__; logits may be any real numbers

    @property
    def param_shape(self):
        return Size(tuple(self._batch_shape) + (self._num_events,))

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):  # undefined for unordered categories: NaN, as in PyTorch
        return self.probs.new_full(tuple(self._batch_shape), float("nan"))

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return self.probs.new_full(tuple(self._batch_shape), float("nan"))

    def sample(self, sample_shape=Size()):
        """Category indices by inverse-CDF sampling: one uniform draw per sample."""
        from ..autograd import no_grad
        from ..creation import rand

        with no_grad():
            shape = tuple(self._extended_shape(sample_shape))
            cdf = self.probs.detach().cumsum(-1)
            u = rand(*shape, 1, dtype=cdf.dtype, device=cdf.device) * cdf[..., -1:]
            full = tuple(shape) + (self._num_events,)
            idx = ((cdf if tuple(cdf.shape) == full else cdf.expand(*full)) <= u).sum(-1)
            return idx.clamp(max=self._num_events - 1)

    def log_prob(self, value):
        from ..functional.shape import broadcast_tensors

        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = broadcast_tensors(value, self.logits)
        return log_pmf.gather(-1, value[..., :1]).squeeze(-1)

    def entropy(self):
        min_real = float(_finfo(self.logits).min)
        logits = self.logits.clamp(min=min_real)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        from ..creation import arange

        values = arange(self._num_events).reshape(-1, *([1] * len(self._batch_shape)))
        return values.expand(-1, *self._batch_shape) if expand else values


class OneHotCategorical(Distribution):
    """Categorical samples as one-hot vectors (event shape ``(K,)``)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = None

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        super().__init__(self._categorical.batch_shape, (self._categorical._num_events,),
                         validate_args=False)

    probs = property(lambda self: self._categorical.probs)
    logits = property(lambda self: self._categorical.logits)
    mean = property(lambda self: self._categorical.probs)
    variance = property(lambda self: self._categorical.probs * (1 - self._categorical.probs))

    @property
    def mode(self):
        from ..nn.functional import one_hot

        return one_hot(self._categorical.mode, self._categorical._num_events).to(self.probs.dtype)

    def sample(self, sample_shape=Size()):
        from ..nn.functional import one_hot

        idx = self._categorical.sample(sample_shape)
        return one_hot(idx, self._categorical._num_events).to(self.probs.dtype)

    def log_prob(self, value):
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()
