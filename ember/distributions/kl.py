"""``kl_divergence(p, q)`` with PyTorch's closed forms, and ``register_kl`` to add pairs."""
from __future__ import annotations

import math

from .continuous import Exponential, Laplace, MultivariateNormal, Normal, Uniform
from .discrete import Bernoulli, Categorical, OneHotCategorical
from .distribution import _err
from .independent import Independent

_KL = {}


def register_kl(type_p, type_q):
    """Decorator: ``@register_kl(P, Q) def kl(p, q): ...`` makes ``kl_divergence`` use it for that pair."""

    def decorator(fn):
        _KL[(type_p, type_q)] = fn
        return fn

    return decorator


def kl_divergence(p, q):
    """KL(p || q), batched over the distributions' batch shape.

    >>> import ember
    >>> from ember.distributions import Normal
    >>> kl_divergence(Normal(0.0, 1.0), Normal(1.0, 1.0))
    tensor(0.5000)
    """
    for tp in type(p).__mro__:
        for tq in type(q).__mro__:
            fn = _KL.get((tp, tq))
            if fn is not None:
                return fn(p, q)
    pairs = ", ".join(f"({a.__name__}, {b.__name__})" for a, b in _KL)
    raise _err(NotImplementedError, f"kl_divergence: no closed form is registered for ({type(p).__name__}, "
                                    f"{type(q).__name__}); known pairs: {pairs}. Register one with "
                                    "@register_kl(P, Q), or estimate it by sampling: (p.log_prob(x) - "
                                    "q.log_prob(x)).mean() with x = p.sample((n,))")


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    from ..nn.functional import softplus

    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = t1.where(q.probs != 0, t1 * 0 + math.inf)
    t1 = t1.where(p.probs != 0, t1 * 0)
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = t2.where(q.probs != 1, t2 * 0 + math.inf)
    t2 = t2.where(p.probs != 1, t2 * 0)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = t.where(q.probs != 0, t * 0 + math.inf)
    t = t.where(p.probs != 0, t * 0)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    outside = (q.low > p.low) | (q.high < p.high)
    return result.where(~outside, result * 0 + math.inf)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    ratio = q.rate / p.rate
    return ratio - 1 - ratio.log()


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = (p.loc - q.loc).abs()
    t1 = -scale_ratio.log()
    t2 = loc_abs_diff / q.scale
    t3 = scale_ratio * (-loc_abs_diff / p.scale).exp()
    return t1 + t2 + t3 - 1


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    from .. import linalg

    if p.event_shape != q.event_shape:
        raise _err(ValueError, f"kl_divergence: MultivariateNormals of different sizes {tuple(p.event_shape)} "
                               f"and {tuple(q.event_shape)}")
    k = p.event_shape[0]
    Lp, Lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    half_term1 = q._half_log_det() - p._half_log_det()
    batch = tuple(p.batch_shape)
    Lq_b = Lq.expand(*batch, k, k) if len(batch) else Lq
    Lp_b = Lp.expand(*batch, k, k) if len(batch) else Lp
    term2 = linalg.solve_triangular(Lq_b, Lp_b, upper=False).pow(2).flatten(-2).sum(-1)
    diff = (q.loc - p.loc).unsqueeze(-1)
    term3 = linalg.solve_triangular(Lq_b, diff, upper=False).pow(2).sum((-2, -1))
    return half_term1 + 0.5 * (term2 + term3 - k)


@register_kl(Independent, Independent)
def _kl_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise _err(NotImplementedError, "kl_divergence: Independent distributions with different "
                                        "reinterpreted_batch_ndims")
    result = kl_divergence(p.base_dist, q.base_dist)
    for _ in range(p.reinterpreted_batch_ndims):
        result = result.sum(-1)
    return result
