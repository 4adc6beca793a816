"""VonMises (an angle around a circle) and ContinuousBernoulli (a density on [0, 1] with a Bernoulli-like shape).

>>> import ember
>>> ContinuousBernoulli(probs=0.5).mean
tensor(0.5000)
"""
from __future__ import annotations

import math

from ..special import i0e, i1e
from ..tensor import Size
from . import constraints
from .discrete import _one_of, _ProbsLogits
from .distribution import _VALIDATE, Distribution, _err, _finfo, broadcast_all, check_values, logits_to_probs
from .gamma_family import ExponentialFamily

_MAX_ROUNDS = 200  # rejection rounds: each accepts at least ~65% of the pending draws, so 200 never run out


def _log_i0(k):
    """log I0(k) for k > 0 from the scaled Bessel function (no overflow for large k)."""
    return i0e(k).log() + k


class VonMises(Distribution):
    """The von Mises distribution on the circle: density ``exp(concentration * cos(x - loc)) / (2 pi I0(conc))``.

    ``loc`` and the values are angles in radians (any real number, read modulo 2 pi); ``mean`` and ``variance``
    are the circular ones (``variance = 1 - I1(k) / I0(k)``). ``sample`` draws with Best and Fisher's rejection
    method (1979) in float64 from Ember's generator and returns angles in [-pi, pi); there is no ``rsample``.

    >>> import ember
    >>> d = VonMises(ember.tensor(0.0), ember.tensor(2.0))
    >>> d.log_prob(ember.tensor(0.0))
    tensor(-0.6619)
    >>> d.sample((3,)).shape
    ember.Size([3])
    """

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 1 - i1e(self.concentration) / i0e(self.concentration)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k = self.concentration
        return k * (value - self.loc).cos() - math.log(2 * math.pi) - _log_i0(k)

    def sample(self, sample_shape=Size()):
        from ..autograd import no_grad
        from ..creation import rand, zeros
        from ..dtypes import bool_

        with no_grad():
            shape = tuple(self._extended_shape(sample_shape))
            loc = self.loc.detach().double().expand(*shape)
            k = self.concentration.detach().double().expand(*shape)
            # the wrapped-Cauchy envelope's parameter r; for tiny k its series 1/k + k avoids 0/0
            tau = 1 + (1 + 4 * k ** 2).sqrt()
            rho = (tau - (2 * tau).sqrt()) / (2 * k)
            r = ((1 + rho ** 2) / (2 * rho)).where(k >= 1e-5, 1 / k + k)
            x = zeros(*shape, dtype=loc.dtype, device=loc.device)
            done = zeros(*shape, dtype=bool_, device=loc.device)
            for _ in range(_MAX_ROUNDS):
                u1, u2, u3 = (rand(*shape, dtype=x.dtype, device=x.device) for _ in range(3))
                z = (math.pi * u1).cos()
                f = (1 + r * z) / (r + z)
                c = k * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                new = accept & ~done
                x = ((u3 - 0.5).sign() * f.clamp(-1, 1).acos()).where(new, x)
                done = done | accept
                if bool(done.all()):
                    break
            else:
                raise _err(RuntimeError, f"VonMises.sample: the rejection sampler did not finish in {_MAX_ROUNDS} "
                                         "rounds (are the concentrations finite?)")
            return ((x + loc + math.pi) % (2 * math.pi) - math.pi).to(self.loc.dtype)


class ContinuousBernoulli(_ProbsLogits, ExponentialFamily):
    """The continuous Bernoulli distribution on [0, 1] (Loaiza-Ganem and Cunningham, 2019): density proportional
    to ``probs ** x * (1 - probs) ** (1 - x)``, given by ``probs`` in [0, 1] or by ``logits`` (not both).

    Neither parameter is a probability or a log-odds; the names follow Bernoulli. ``probs`` is clamped into
    ``[eps, 1 - eps]``. Near ``probs = 0.5`` (inside ``lims``) the normaliser, mean, variance, cdf and icdf use
    their Taylor series instead of the formulas that divide by ``2 * probs - 1``. ``rsample`` is the inverse cdf
    of a uniform draw, differentiable in the parameters.

    >>> import ember
    >>> d = ContinuousBernoulli(probs=ember.tensor([0.2, 0.5]))
    >>> d.log_prob(ember.tensor([0.1, 0.1]))
    tensor([0.4757, 0.0000])
    >>> d.icdf(d.cdf(ember.tensor([0.3, 0.3])))
    tensor([0.3000, 0.3000])
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True
    _binary = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        _one_of("ContinuousBernoulli", probs, logits)
        try:
            lo, hi = (float(v) for v in lims)
        except (TypeError, ValueError):
            raise _err(TypeError, f"ContinuousBernoulli: lims must be two numbers (lo, hi), got {lims!r}") from None
        if not 0 < lo <= 0.5 <= hi < 1:
            raise _err(ValueError, f"ContinuousBernoulli: lims must satisfy 0 < lo <= 0.5 <= hi < 1, got {lims!r}")
        self._lims = (lo, hi)
        if probs is not None:
            (p,) = broadcast_all(probs)
            if validate_args or validate_args is None and _VALIDATE[0]:
                check_values(constraints.unit_interval.check(p.detach()), p,
                             "ContinuousBernoulli: expected probs in [0, 1], got {value}")
            self._probs = _clamp(p)
            shape = p.shape
        else:
            (self._logits,) = broadcast_all(logits)
            shape = self._logits.shape
        super().__init__(shape, validate_args=validate_args)

    def _check_parameters(self):
        pass  # probs were checked before clamping; logits are any real number

    @property
    def probs(self):
        if "_probs" in self.__dict__:
            return self._probs
        return self._derived("_probs", _clamp(logits_to_probs(self._logits, True)), self._logits)

    @property
    def param_shape(self):
        return (self._probs if "_probs" in self.__dict__ else self._logits).shape

    def _stable(self):
        p = self.probs
        return (p <= self._lims[0]) | (p > self._lims[1])

    def _cut_probs(self):
        p = self.probs
        return p.where(self._stable(), p * 0 + self._lims[0])

    def _log_norm(self):
        """log C(p), the normaliser: log|log((1-p)/p)| - log|1 - 2p|, or its series around p = 1/2."""
        cp = self._cut_probs()
        below = cp <= 0.5
        exact = ((-cp).log1p() - cp.log()).abs().log() \
            - (-2 * cp.where(below, cp * 0)).log1p().where(below, (2 * cp.where(~below, cp * 0 + 1) - 1).log())
        x = (self.probs - 0.5) ** 2
        series = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return exact.where(self._stable(), series)

    @property
    def mean(self):
        cp = self._cut_probs()
        exact = cp / (2 * cp - 1) + 1 / ((-cp).log1p() - cp.log())
        x = self.probs - 0.5
        return exact.where(self._stable(), 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x ** 2) * x)

    @property
    def variance(self):
        cp = self._cut_probs()
        exact = cp * (cp - 1) / (1 - 2 * cp) ** 2 + 1 / ((-cp).log1p() - cp.log()) ** 2
        x = (self.probs - 0.5) ** 2
        return exact.where(self._stable(), 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x)

    def rsample(self, sample_shape=Size()):
        from ..creation import rand

        p = self.probs
        u = rand(*self._extended_shape(sample_shape), dtype=p.dtype, device=p.device)
        return self.icdf(u)

    def log_prob(self, value):
        from ..nn.functional import binary_cross_entropy_with_logits

        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none") + self._log_norm()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        cp = self._cut_probs()
        inner = (cp ** value * (1 - cp) ** (1 - value) + cp - 1) / (2 * cp - 1)
        inner = inner.where(self._stable(), value + cp * 0)
        zero, one = inner * 0, inner * 0 + 1
        return zero.where(value <= 0, one.where(value >= 1, inner))

    def icdf(self, value):
        cp = self._cut_probs()
        exact = ((-cp + value * (2 * cp - 1)).log1p() - (-cp).log1p()) / (cp.log() - (-cp).log1p())
        return exact.where(self._stable(), value + cp * 0)

    def entropy(self):
        log_q, log_p = (-self.probs).log1p(), self.probs.log()
        return self.mean * (log_q - log_p) - self._log_norm() - log_q

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        lo, hi = self._lims[0] - 0.5, self._lims[1] - 0.5
        stable = (x <= lo) | (x > hi)
        cut = x.where(stable, x * 0 + lo)
        exact = cut.expm1().abs().log() - cut.abs().log()
        return exact.where(stable, 0.5 * x + x ** 2 / 24.0 - x ** 4 / 2880.0)


def _clamp(p):
    eps = float(_finfo(p).eps)
    return p.clamp(eps, 1 - eps)
