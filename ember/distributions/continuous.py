"""Continuous distributions: Normal, Uniform, MultivariateNormal, Exponential, Laplace (PyTorch's formulas)."""
from __future__ import annotations

import math

from ..tensor import Size
from . import constraints
from .distribution import LOG_SQRT_2PI, Distribution, _err, broadcast_all, check_values


def _noise(kind, shape, like):
    from ..creation import rand, randn

    fn = randn if kind == "normal" else rand
    return fn(*shape, dtype=like.dtype, device=like.device)


class Normal(Distribution):
    """The normal distribution with mean ``loc`` and standard deviation ``scale`` (broadcast together).

    >>> import ember
    >>> d = Normal(ember.tensor([0.0, 1.0]), ember.tensor([1.0, 2.0]))
    >>> d.sample((5,)).shape
    ember.Size([5, 2])
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def rsample(self, sample_shape=Size()):
        eps = _noise("normal", self._extended_shape(sample_shape), self.loc)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale ** 2
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - LOG_SQRT_2PI

    def cdf(self, value):
        return 0.5 * (1 + ((value - self.loc) / (self.scale * math.sqrt(2))).erf())

    def icdf(self, value):
        return self.loc + self.scale * (2 * value - 1).erfinv() * math.sqrt(2)

    def entropy(self):
        return 0.5 + LOG_SQRT_2PI + self.scale.log()


class Uniform(Distribution):
    """The uniform distribution on ``[low, high)``."""

    arg_constraints = {"low": constraints.dependent, "high": constraints.dependent}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, validate_args=validate_args)
        if self._validate_args:
            check_values(self.low < self.high, self.low, "Uniform: expected low < high everywhere, got low={value} "
                         "at a place where high is not larger")

    @property
    def support(self):
        return constraints.interval(self.low, self.high, half_open=True)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return self.low * float("nan")

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=Size()):
        u = _noise("uniform", self._extended_shape(sample_shape), self.low)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        inside = ((self.low <= value) & (value < self.high)).to(self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def cdf(self, value):
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    def entropy(self):
        return (self.high - self.low).log()


class Exponential(Distribution):
    """The exponential distribution with rate ``rate``."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return 1 / self.rate

    @property
    def mode(self):
        return self.rate * 0

    @property
    def variance(self):
        return self.rate ** -2

    def rsample(self, sample_shape=Size()):
        u = _noise("uniform", self._extended_shape(sample_shape), self.rate)
        return -(-u).log1p() / self.rate  # inverse CDF; 1 - u is in (0, 1]

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        return -(-value).log1p() / self.rate

    def entropy(self):
        return 1.0 - self.rate.log()


class Laplace(Distribution):
    """The Laplace distribution with location ``loc`` and scale ``scale``."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale ** 2

    def rsample(self, sample_shape=Size()):
        import numpy as np

        eps = float(np.finfo(self.loc._data.dtype).eps)
        u = _noise("uniform", self._extended_shape(sample_shape), self.loc) * 2 - 1 + eps
        u = u.clamp(-1 + eps, 1 - eps)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        d = value - self.loc
        return 0.5 - 0.5 * d.sign() * (-d.abs() / self.scale).expm1()

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self):
        return 1 + (2 * self.scale).log()


class MultivariateNormal(Distribution):
    """The multivariate normal with mean ``loc`` and one of ``covariance_matrix``, ``precision_matrix`` or
    ``scale_tril`` (a lower-triangular factor of the covariance)."""

    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite, "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        from numpy import broadcast_shapes

        from .. import linalg

        given = [m is not None for m in (covariance_matrix, precision_matrix, scale_tril)]
        if sum(given) != 1:
            raise _err(ValueError, "MultivariateNormal: pass exactly one of covariance_matrix, precision_matrix "
                                   f"or scale_tril (got {sum(given)})")
        matrix = next(m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None)
        if loc.ndim < 1 or matrix.ndim < 2 or matrix.shape[-1] != loc.shape[-1] or \
                matrix.shape[-2] != matrix.shape[-1]:
            raise _err(ValueError, f"MultivariateNormal: loc of shape {tuple(loc.shape)} needs a (..., "
                                   f"{loc.shape[-1] if loc.ndim else 'k'}, same) square matrix, got "
                                   f"{tuple(matrix.shape)}")
        batch = broadcast_shapes(tuple(loc.shape[:-1]), tuple(matrix.shape[:-2]))
        k = loc.shape[-1]
        self.loc = loc.expand(*batch, k)
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(*batch, k, k)
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(*batch, k, k)
        else:
            self.precision_matrix = precision_matrix.expand(*batch, k, k)
        super().__init__(batch, (k,), validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = linalg.cholesky(linalg.inv(precision_matrix))

    def __getattr__(self, name):  # the parametrisations not given are derived on first use
        if name == "scale_tril":
            return self._unbroadcasted_scale_tril.expand(*self._batch_shape, *self._event_shape * 2)
        if name == "covariance_matrix":
            L = self._unbroadcasted_scale_tril
            return (L @ L.mT).expand(*self._batch_shape, *self._event_shape * 2)
        if name == "precision_matrix":
            from .. import linalg

            return linalg.inv(self.covariance_matrix)
        raise AttributeError(name)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        L = self._unbroadcasted_scale_tril
        return (L ** 2).sum(-1).expand(*self._batch_shape, *self._event_shape)

    def rsample(self, sample_shape=Size()):
        eps = _noise("normal", self._extended_shape(sample_shape), self.loc)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self):
        return self._unbroadcasted_scale_tril.diagonal(0, -2, -1).log().sum(-1)

    def log_prob(self, value):
        from .. import linalg

        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        L = self._unbroadcasted_scale_tril
        shape = tuple(diff.shape[:-1])
        z = linalg.solve_triangular(L.expand(*shape, *L.shape[-2:]) if L.ndim - 2 < len(shape) else L,
                                    diff.unsqueeze(-1), upper=False).squeeze(-1)
        k = self._event_shape[0]
        return -0.5 * (k * math.log(2 * math.pi) + (z ** 2).sum(-1)) - self._half_log_det()

    def entropy(self):
        k = self._event_shape[0]
        h = 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(*self._batch_shape) if len(self._batch_shape) else h
