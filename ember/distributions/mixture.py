"""``MixtureSameFamily``: a Categorical choice among the components of one batched distribution.

>>> import ember
>>> from ember.distributions import Categorical, Normal
>>> m = MixtureSameFamily(Categorical(probs=ember.tensor([0.5, 0.5])), Normal(ember.tensor([-1.0, 1.0]), 1.0))
>>> m.mean
tensor(0.)
"""
from __future__ import annotations

from ..tensor import Size
from .discrete import Categorical
from .distribution import Distribution, _err


class MixtureSameFamily(Distribution):
    """``mixture_distribution`` (a Categorical over ``K``) picks one of the ``K`` components along the last
    batch dim of ``component_distribution``; ``log_prob`` is the log-sum-exp over components.

    >>> import ember
    >>> from ember.distributions import Categorical, Normal
    >>> m = MixtureSameFamily(Categorical(logits=ember.zeros(3)), Normal(ember.arange(3.0), 1.0))
    >>> m.sample((4,)).shape
    ember.Size([4])
    """

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        if not isinstance(mixture_distribution, Categorical):
            raise _err(ValueError, "MixtureSameFamily: the mixture distribution needs to be a Categorical, got "
                                   f"{type(mixture_distribution).__name__}")
        if not isinstance(component_distribution, Distribution):
            raise _err(ValueError, "MixtureSameFamily: the component distribution needs to be a Distribution, "
                                   f"got {type(component_distribution).__name__}")
        mdbs, cdbs = tuple(mixture_distribution.batch_shape), tuple(component_distribution.batch_shape[:-1])
        for a, b in zip(reversed(mdbs), reversed(cdbs)):
            if a != 1 and b != 1 and a != b:
                raise _err(ValueError, f"MixtureSameFamily: mixture_distribution.batch_shape {mdbs} is not "
                                       f"compatible with component_distribution.batch_shape {cdbs}")
        km = mixture_distribution.logits.shape[-1]
        kc = component_distribution.batch_shape[-1] if len(component_distribution.batch_shape) else None
        if km != kc:
            raise _err(ValueError, f"MixtureSameFamily: mixture_distribution has {km} components but "
                                   f"component_distribution.batch_shape[-1] is {kc}")
        self._mixture_distribution, self._component_distribution = mixture_distribution, component_distribution
        self._num_component, self._event_ndims = km, len(component_distribution.event_shape)
        super().__init__(cdbs, component_distribution.event_shape, validate_args=validate_args)

    mixture_distribution = property(lambda self: self._mixture_distribution)
    component_distribution = property(lambda self: self._component_distribution)
    support = property(lambda self: self._component_distribution.support)

    def expand(self, batch_shape, _instance=None):
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._component_distribution = self._component_distribution.expand(tuple(batch_shape) +
                                                                          (self._num_component,))
        new._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        new._batch_shape = Size(batch_shape)
        return new

    def _pad(self, x):
        return x.unsqueeze(-1 - self._event_ndims)

    def _pad_mixture_dimensions(self, x):
        """Mixture probabilities shaped to broadcast against the components' (batch, K, event) values."""
        cat_ndims = len(self._mixture_distribution.batch_shape)
        pad = 0 if cat_ndims == 1 else len(self.batch_shape) - cat_ndims
        return x.reshape(*x.shape[:-1], *([1] * pad), x.shape[-1], *([1] * self._event_ndims))

    @property
    def mean(self):
        probs = self._pad_mixture_dimensions(self._mixture_distribution.probs)
        return (probs * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        probs = self._pad_mixture_dimensions(self._mixture_distribution.probs)
        comp = self._component_distribution
        mean_cond_var = (probs * comp.variance).sum(-1 - self._event_ndims)
        var_cond_mean = (probs * (comp.mean - self._pad(self.mean)) ** 2).sum(-1 - self._event_ndims)
        return mean_cond_var + var_cond_mean

    def cdf(self, x):
        cdf_x = self._component_distribution.cdf(self._pad(x))
        return (cdf_x * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        if self._validate_args:
            self._validate_sample(x)
        log_prob_x = self._component_distribution.log_prob(self._pad(x))
        log_mix = self._mixture_distribution.logits.log_softmax(-1)
        return (log_prob_x + log_mix).logsumexp(-1)

    def sample(self, sample_shape=Size()):
        from ..autograd import no_grad

        with no_grad():
            n_sample = len(Size(sample_shape)) if not isinstance(sample_shape, int) else 1
            gather_dim = n_sample + len(self.batch_shape)
            es = tuple(self.event_shape)
            mix = self._mixture_distribution.sample(sample_shape)
            comp = self._component_distribution.sample(sample_shape)
            idx = mix.reshape(*mix.shape, 1, *([1] * len(es)))
            idx = idx.expand(*mix.shape, 1, *es)
            if tuple(comp.shape[:gather_dim]) != tuple(idx.shape[:gather_dim]):  # mixture batch broadcasts
                idx = idx.expand(*comp.shape[:gather_dim], 1, *es)
            return comp.gather(gather_dim, idx).squeeze(gather_dim)

    def __repr__(self):
        return f"MixtureSameFamily(\n  {self._mixture_distribution},\n  {self._component_distribution})"
