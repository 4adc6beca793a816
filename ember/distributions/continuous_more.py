"""More continuous distributions: Cauchy and LowRankMultivariateNormal.

>>> import ember
>>> Cauchy(0.0, 1.0).cdf(ember.tensor(1.0))
tensor(0.7500)
"""
from __future__ import annotations

import math

from ..tensor import Size
from . import constraints
from .continuous import MultivariateNormal, _noise
from .distribution import Distribution, _err, broadcast_all


class Cauchy(Distribution):
    """The Cauchy (Lorentz) distribution with median ``loc`` and half-width ``scale``; no mean or variance.

    >>> import ember
    >>> Cauchy(0.0, 2.0).entropy()
    tensor(3.2242)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    mean = property(lambda self: self.loc * math.nan)
    mode = property(lambda self: self.loc)
    variance = property(lambda self: self.loc * 0 + math.inf)

    def rsample(self, sample_shape=Size()):
        u = _noise("uniform", self._extended_shape(sample_shape), self.loc)
        return self.loc + self.scale * (math.pi * (u - 0.5)).tan()  # inverse CDF of the standard Cauchy

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -math.log(math.pi) - self.scale.log() - (((value - self.loc) / self.scale) ** 2).log1p()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value):
        return (math.pi * (value - 0.5)).tan() * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()


class LowRankMultivariateNormal(MultivariateNormal):
    """A multivariate normal with covariance ``cov_factor @ cov_factor.mT + diag(cov_diag)``.

    >>> import ember
    >>> d = LowRankMultivariateNormal(ember.zeros(2), ember.tensor([[1.0], [0.0]]), ember.ones(2))
    >>> d.variance
    tensor([2., 1.])
    """

    arg_constraints = {"loc": constraints.real_vector, "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        from ..functional.shape import broadcast_tensors
        from ..linalg import cholesky

        if loc.ndim < 1:
            raise _err(ValueError, "LowRankMultivariateNormal: loc must be at least one-dimensional")
        k = loc.shape[-1]
        if cov_factor.ndim < 2 or cov_factor.shape[-2] != k:
            raise _err(ValueError, f"LowRankMultivariateNormal: cov_factor must be a batch of matrices with shape "
                                   f"{k} x m, got {tuple(cov_factor.shape)}")
        if cov_diag.ndim < 1 or cov_diag.shape[-1] != k:
            raise _err(ValueError, f"LowRankMultivariateNormal: cov_diag must be a batch of vectors with shape "
                                   f"({k},), got {tuple(cov_diag.shape)}")
        try:
            loc_, self.cov_factor, diag_ = broadcast_tensors(loc.unsqueeze(-1), cov_factor, cov_diag.unsqueeze(-1))
        except (ValueError, RuntimeError):
            raise _err(ValueError, f"LowRankMultivariateNormal: incompatible batch shapes: loc {tuple(loc.shape)}, "
                                   f"cov_factor {tuple(cov_factor.shape)}, cov_diag {tuple(cov_diag.shape)}") from None
        self.loc, self.cov_diag = loc_[..., 0], diag_[..., 0]
        self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag = cov_factor, cov_diag
        Distribution.__init__(self, self.loc.shape[:-1], (k,), validate_args=validate_args)
        # the full covariance's Cholesky factor (O(k^3), not the Woodbury identity): the values are the same
        cov = cov_factor @ cov_factor.mT + cov_diag.diag_embed()
        self._unbroadcasted_scale_tril = cholesky(cov)

    def __getattr__(self, name):
        if name == "covariance_matrix":
            W = self._unbroadcasted_cov_factor
            cov = W @ W.mT + self._unbroadcasted_cov_diag.diag_embed()
            return cov.expand(*self._batch_shape, *self._event_shape * 2)
        return super().__getattr__(name)

    @property
    def variance(self):
        v = (self._unbroadcasted_cov_factor ** 2).sum(-1) + self._unbroadcasted_cov_diag
        return v.expand(*self._batch_shape, *self._event_shape)

    def rsample(self, sample_shape=Size()):
        shape = tuple(self._extended_shape(sample_shape))
        eps_w = _noise("normal", shape[:-1] + (self.cov_factor.shape[-1],), self.loc)
        eps_d = _noise("normal", shape, self.loc)
        w = (self._unbroadcasted_cov_factor @ eps_w.unsqueeze(-1)).squeeze(-1)
        return self.loc + w + self._unbroadcasted_cov_diag.sqrt() * eps_d
