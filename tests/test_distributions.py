"""ember.distributions against torch.distributions: one row per distribution, the same parameters on both
sides; log_prob / entropy / moments / kl_divergence compared exactly, sampling checked by its statistics
and rsample by the gradients it carries."""
import math

import numpy as np
import pytest

import ember
from ember import distributions as ED

torch = pytest.importorskip("torch")
TD = torch.distributions

RNG = np.random.default_rng(0)
LOC, SCALE = RNG.normal(size=(3,)), RNG.uniform(0.5, 2.0, (3,))
P = RNG.uniform(0.1, 0.9, (3,))
PROBS = RNG.uniform(0.1, 1.0, (2, 4))
LOGITS = RNG.normal(size=(2, 4))
COV_FACTOR = RNG.normal(size=(3, 3))
COV = COV_FACTOR @ COV_FACTOR.T + np.eye(3)
V53, V3, V43, V23 = RNG.normal(size=(5, 3)), RNG.normal(size=(3,)), RNG.normal(size=(4, 3)), RNG.normal(size=(2, 3))


def both(fn):
    return fn(ember, ED), fn(torch, TD)


def t(lib, a):
    return lib.tensor(np.asarray(a), dtype=lib.float64)


# name, constructor(lib, D), values(lib) for log_prob
ROWS = [
    ("Normal", lambda L, D: D.Normal(t(L, LOC), t(L, SCALE)), lambda L: t(L, V53)),
    ("Normal_scalar", lambda L, D: D.Normal(0.5, 2.0), lambda L: t(L, [0.1, -3.0])),
    ("Uniform", lambda L, D: D.Uniform(t(L, -SCALE), t(L, SCALE)), lambda L: t(L, SCALE * 0.3)),
    ("Exponential", lambda L, D: D.Exponential(t(L, SCALE)), lambda L: t(L, [0.5, 1.0, 3.0])),
    ("Laplace", lambda L, D: D.Laplace(t(L, LOC), t(L, SCALE)), lambda L: t(L, V3)),
    ("Bernoulli_probs", lambda L, D: D.Bernoulli(probs=t(L, P)), lambda L: t(L, [1.0, 0.0, 1.0])),
    ("Bernoulli_logits", lambda L, D: D.Bernoulli(logits=t(L, LOC)), lambda L: t(L, [[0.0, 1.0, 1.0]])),
    ("Categorical_probs", lambda L, D: D.Categorical(probs=t(L, PROBS)), lambda L: L.tensor([3, 0])),
    ("Categorical_logits", lambda L, D: D.Categorical(logits=t(L, LOGITS)), lambda L: L.tensor([[1, 2], [0, 3]])),
    ("OneHotCategorical", lambda L, D: D.OneHotCategorical(logits=t(L, LOGITS)),
     lambda L: t(L, [[0, 1, 0, 0], [0, 0, 0, 1]])),
    ("MultivariateNormal_cov", lambda L, D: D.MultivariateNormal(t(L, LOC), t(L, COV)),
     lambda L: t(L, V43)),
    ("MultivariateNormal_tril", lambda L, D: D.MultivariateNormal(t(L, np.zeros((2, 3))),
                                                                  scale_tril=t(L, np.linalg.cholesky(COV))),
     lambda L: t(L, V23)),
    ("MultivariateNormal_precision", lambda L, D: D.MultivariateNormal(t(L, LOC), precision_matrix=t(L, COV)),
     lambda L: t(L, LOC * 0.5)),
    ("Independent", lambda L, D: D.Independent(D.Normal(t(L, LOC), t(L, SCALE)), 1), lambda L: t(L, LOC)),
]
IDS = [r[0] for r in ROWS]


def close(a, b, what):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-7, atol=1e-9, err_msg=what)


@pytest.mark.parametrize("name,make,values", ROWS, ids=IDS)
def test_matches_torch(name, make, values):
    e, tt = make(ember, ED), make(torch, TD)
    assert tuple(e.batch_shape) == tuple(tt.batch_shape) and tuple(e.event_shape) == tuple(tt.event_shape)
    close(e.log_prob(values(ember)), tt.log_prob(values(torch)), "log_prob")
    close(e.entropy(), tt.entropy(), "entropy")
    for moment in ("mean", "variance", "stddev", "mode"):
        try:
            want = getattr(tt, moment)
        except NotImplementedError:
            continue
        close(getattr(e, moment), want, moment)
    assert e.has_rsample == tt.has_rsample
    sample = e.sample((7,))
    tsample = tt.sample((7,))
    assert tuple(sample.shape) == tuple(tsample.shape) and sample.dtype.name == str(tsample.dtype)[6:]
    assert not sample.requires_grad


@pytest.mark.parametrize("name,make,values", ROWS, ids=IDS)
def test_sample_statistics(name, make, values):
    ember.manual_seed(0)
    d = make(ember, ED)
    n = 20000
    x = d.sample((n,))
    if name.startswith("Categorical"):  # frequencies against the probabilities
        counts = np.stack([(x.numpy() == k).mean(0) for k in range(d.probs.shape[-1])], -1)
        np.testing.assert_allclose(counts, d.probs.numpy(), atol=0.02)
        return
    mean, var = d.mean.numpy(), d.variance.numpy()
    np.testing.assert_allclose(x.numpy().mean(0), mean, atol=4 * np.sqrt(var.max() / n) + 1e-3)
    np.testing.assert_allclose(x.numpy().var(0), var, rtol=0.1)


KL_PAIRS = [
    ("Normal", lambda L, D: (D.Normal(t(L, LOC), t(L, SCALE)), D.Normal(t(L, -LOC), t(L, SCALE[::-1].copy())))),
    ("Bernoulli", lambda L, D: (D.Bernoulli(probs=t(L, P)), D.Bernoulli(logits=t(L, LOC)))),
    ("Categorical", lambda L, D: (D.Categorical(probs=t(L, PROBS)), D.Categorical(logits=t(L, LOGITS)))),
    ("Uniform", lambda L, D: (D.Uniform(t(L, -P), t(L, P)), D.Uniform(t(L, -SCALE - 1), t(L, SCALE + 1)))),
    ("Exponential", lambda L, D: (D.Exponential(t(L, SCALE)), D.Exponential(t(L, P)))),
    ("Laplace", lambda L, D: (D.Laplace(t(L, LOC), t(L, SCALE)), D.Laplace(t(L, P), t(L, P)))),
    ("MultivariateNormal", lambda L, D: (D.MultivariateNormal(t(L, LOC), t(L, COV)),
                                         D.MultivariateNormal(t(L, np.zeros((2, 3))), t(L, np.eye(3) * 2)))),
    ("Independent", lambda L, D: (D.Independent(D.Normal(t(L, LOC), t(L, SCALE)), 1),
                                  D.Independent(D.Normal(t(L, P), t(L, SCALE)), 1))),
]


@pytest.mark.parametrize("name,make", KL_PAIRS, ids=[k[0] for k in KL_PAIRS])
def test_kl_divergence_matches_torch(name, make):
    (ep, eq), (tp, tq) = make(ember, ED), make(torch, TD)
    close(ED.kl_divergence(ep, eq), TD.kl_divergence(tp, tq), "kl")


def test_rsample_carries_gradients_like_torch():
    loc = ember.tensor([0.5, -1.0], requires_grad=True)
    scale = ember.tensor([1.0, 2.0], requires_grad=True)
    ember.manual_seed(1)
    x = ED.Normal(loc, scale).rsample((1000,))
    x.mean().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [0.5, 0.5], rtol=1e-5)  # d mean(loc + eps*scale) / d loc
    eps = (x.detach() - loc.detach()) / scale.detach()
    np.testing.assert_allclose(scale.grad.numpy(), eps.mean(0).numpy() / 2, rtol=1e-5)
    # a score-function (REINFORCE) loss: the gradient flows through log_prob into the logits
    logits = ember.zeros(3, requires_grad=True)
    d = ED.Categorical(logits=logits)
    d.log_prob(ember.tensor(2)).backward()
    tl = torch.zeros(3, requires_grad=True)
    TD.Categorical(logits=tl).log_prob(torch.tensor(2)).backward()
    np.testing.assert_allclose(logits.grad.numpy(), tl.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("bad, match", [
    (lambda: ED.Normal(0.0, -1.0), "scale"),
    (lambda: ED.Normal(0.0, 1.0).log_prob(1.0), "must be a tensor"),
    (lambda: ED.Uniform(0.0, 1.0).log_prob(ember.tensor(2.0)), "support"),
    (lambda: ED.Bernoulli(probs=ember.tensor(1.5)), "probs"),
    (lambda: ED.Bernoulli(), "either probs or logits"),
    (lambda: ED.Categorical(probs=ember.tensor([0.5, 0.5])).log_prob(ember.tensor(3)), "support"),
    (lambda: ED.Categorical(probs=ember.tensor(0.5)), "at least one dimension"),
    (lambda: ED.MultivariateNormal(ember.zeros(2)), "exactly one"),
    (lambda: ED.MultivariateNormal(ember.zeros(2), ember.eye(3)), "square matrix"),
    (lambda: ED.kl_divergence(ED.Normal(0.0, 1.0), ED.Bernoulli(probs=ember.tensor(0.5))), "register_kl"),
    (lambda: ED.Normal(ember.zeros(3), 1.0).log_prob(ember.zeros(2)), "broadcast"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_mistakes_raise_clear_errors(bad, match):
    with pytest.raises((ValueError, NotImplementedError), match=match):
        bad()
    assert math.isfinite(ED.Uniform(0.0, 1.0, validate_args=False).log_prob(ember.tensor(0.5)).item())
