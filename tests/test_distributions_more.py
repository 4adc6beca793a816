"""The distributions beyond the first set (gamma family, counting, transformed, relaxed, mixtures) and the
transforms, against torch.distributions in float64: one row per distribution, per transform, per KL pair, per
mistake. Sampling is checked by its statistics (Ember's generator differs from torch's) and reparameterised
gradients against the implicit-function formula."""
import math

import numpy as np
import pytest

import ember
from ember import distributions as ED
from ember.distributions import transforms as ET

torch = pytest.importorskip("torch")
TD = torch.distributions
TT = torch.distributions.transforms

RNG = np.random.default_rng(1)
POS = RNG.uniform(0.5, 3.0, (3,))
POS2 = RNG.uniform(0.5, 3.0, (3,))
BIG = RNG.uniform(2.5, 6.0, (3,))
LOC = RNG.normal(size=(3,))
P = RNG.uniform(0.1, 0.9, (3,))
CONC = RNG.uniform(0.5, 3.0, (2, 4))
PROBS = RNG.uniform(0.1, 1.0, (2, 4))
W = RNG.normal(size=(2, 3, 2))


def t(lib, a, grad=False):
    x = lib.tensor(np.asarray(a, dtype=np.float64), dtype=lib.float64)
    return x.requires_grad_() if grad else x


# name, constructor(lib, D, params), params (numpy; differentiated), values (numpy) for log_prob / cdf
ROWS = [
    ("Gamma", lambda L, D, a, b: D.Gamma(a, b), [POS, POS2], RNG.uniform(0.1, 4, (5, 3))),
    ("Chi2", lambda L, D, a: D.Chi2(a), [BIG], RNG.uniform(0.1, 4, (5, 3))),
    ("InverseGamma", lambda L, D, a, b: D.InverseGamma(a, b), [BIG, POS], RNG.uniform(0.1, 4, (5, 3))),
    ("Beta", lambda L, D, a, b: D.Beta(a, b), [POS, POS2], RNG.uniform(0.05, 0.95, (5, 3))),
    ("Dirichlet", lambda L, D, c: D.Dirichlet(c), [CONC], RNG.dirichlet(np.ones(4), (5, 2))),
    ("StudentT", lambda L, D, df, m, s: D.StudentT(df, m, s), [BIG, LOC, POS], RNG.normal(size=(5, 3))),
    ("FisherSnedecor", lambda L, D, a, b: D.FisherSnedecor(a, b), [BIG, BIG + 3], RNG.uniform(0.1, 4, (5, 3))),
    ("Cauchy", lambda L, D, m, s: D.Cauchy(m, s), [LOC, POS], RNG.normal(size=(5, 3))),
    ("LogNormal", lambda L, D, m, s: D.LogNormal(m, s), [LOC, POS], RNG.uniform(0.1, 4, (5, 3))),
    ("HalfNormal", lambda L, D, s: D.HalfNormal(s), [POS], RNG.uniform(0.1, 4, (5, 3))),
    ("HalfCauchy", lambda L, D, s: D.HalfCauchy(s), [POS], RNG.uniform(0.1, 4, (5, 3))),
    ("Gumbel", lambda L, D, m, s: D.Gumbel(m, s), [LOC, POS], RNG.normal(size=(5, 3))),
    ("Weibull", lambda L, D, s, c: D.Weibull(s, c), [POS, BIG], RNG.uniform(0.1, 4, (5, 3))),
    ("Pareto", lambda L, D, s, a: D.Pareto(s, a), [POS * 0.1, BIG], RNG.uniform(0.4, 4, (5, 3))),
    ("Kumaraswamy", lambda L, D, a, b: D.Kumaraswamy(a, b), [POS, POS2], RNG.uniform(0.05, 0.95, (5, 3))),
    ("Laplace", lambda L, D, m, s: D.Laplace(m, s), [LOC, POS], RNG.normal(size=(5, 3))),
    ("Poisson", lambda L, D, r: D.Poisson(r), [BIG], RNG.integers(0, 8, (5, 3))),
    ("Geometric", lambda L, D, p: D.Geometric(probs=p), [P], RNG.integers(0, 8, (5, 3))),
    ("Binomial", lambda L, D, p: D.Binomial(L.tensor([5.0, 5.0, 5.0], dtype=L.float64), probs=p), [P],
     RNG.integers(0, 6, (5, 3))),
    ("Binomial_logits", lambda L, D, lg: D.Binomial(7, logits=lg), [LOC], RNG.integers(0, 8, (5, 3))),
    ("NegativeBinomial", lambda L, D, n, p: D.NegativeBinomial(n, probs=p), [BIG, P], RNG.integers(0, 8, (5, 3))),
    ("Multinomial", lambda L, D, p: D.Multinomial(6, probs=p), [PROBS], np.array([[1, 2, 0, 3], [0, 0, 6, 0]])),
    ("LowRankMultivariateNormal", lambda L, D, m, w, d: D.LowRankMultivariateNormal(m, w, d),
     [LOC, W, POS], RNG.normal(size=(4, 2, 3))),
    ("RelaxedBernoulli", lambda L, D, p: D.RelaxedBernoulli(L.tensor(0.7, dtype=L.float64), probs=p), [P],
     RNG.uniform(0.05, 0.95, (5, 3))),
    ("RelaxedOneHotCategorical", lambda L, D, p: D.RelaxedOneHotCategorical(L.tensor(0.7, dtype=L.float64),
                                                                            probs=p), [PROBS],
     RNG.dirichlet(np.ones(4), (5, 2))),
    ("MixtureSameFamily", lambda L, D, p, m, s: D.MixtureSameFamily(D.Categorical(probs=p), D.Normal(m, s)),
     [P / P.sum(), LOC, POS], RNG.normal(size=(5,))),
    ("Transformed_affine_exp", lambda L, D, m, s: D.TransformedDistribution(
        D.Normal(m, s), [L.distributions.transforms.AffineTransform(1.0, 2.0),
                         L.distributions.transforms.ExpTransform()]), [LOC, POS], RNG.uniform(0.1, 4, (5, 3))),
    ("Transformed_stickbreaking", lambda L, D, m, s: D.TransformedDistribution(
        D.Independent(D.Normal(m, s), 1), L.distributions.transforms.StickBreakingTransform()), [LOC, POS],
     RNG.dirichlet(np.ones(4), (5,))),
]
IDS = [r[0] for r in ROWS]


def close(a, b, what, rtol=1e-10):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12, err_msg=what)


def build(row, lib, D, grad=False):
    _, make, params, _ = row
    ps = [t(lib, p, grad) for p in params]
    return make(lib, D, *ps), ps


def _try(fn):
    try:
        return fn()
    except NotImplementedError:
        return NotImplemented


def _method(d, lib, name, arg):
    if name == "entropy":
        return d.entropy()
    return getattr(d, name)(t(lib, arg)) if arg is not None else getattr(d, name)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_values_and_gradients_match_torch(row):
    (e, eps), (tt, tps) = build(row, ember, ED, True), build(row, torch, TD, True)
    assert tuple(e.batch_shape) == tuple(tt.batch_shape) and tuple(e.event_shape) == tuple(tt.event_shape)
    assert e.has_rsample == tt.has_rsample
    v = row[3]
    lp_e, lp_t = e.log_prob(t(ember, v)), tt.log_prob(t(torch, v))
    close(lp_e, lp_t, "log_prob")
    checked = ["log_prob"]
    for name in ("entropy", "mean", "variance", "stddev", "mode", "cdf", "icdf"):
        arg = (v if name == "cdf" else RNG.uniform(0.05, 0.95, np.shape(v))) if name in ("cdf", "icdf") else None
        want = _try(lambda n=name, a=arg: _method(tt, torch, n, a))
        got = None if want is NotImplemented else _method(e, ember, name, arg)
        if want is not NotImplemented:
            # torch's Multinomial.entropy takes lgamma of an int64 tensor: float32 precision on its side
            close(got, want, name, rtol=1e-7 if (row[0], name) == ("Multinomial", "entropy") else 1e-10)
            checked.append(name)
    if row[0] in ("Gamma", "Cauchy", "Gumbel", "LogNormal", "HalfNormal", "Weibull", "Pareto", "Laplace"):
        assert {"cdf", "icdf"} <= set(checked) or row[0] == "Gamma" and "cdf" in checked, checked
    # gradients of log_prob (+ entropy where both have it) with respect to every parameter
    total_e, total_t = lp_e.sum(), lp_t.sum()
    if "entropy" in checked and row[0] != "Multinomial":
        total_e, total_t = total_e + e.entropy().sum(), total_t + tt.entropy().sum()
    ge = ember.autograd.grad(total_e, eps, allow_unused=True)
    gt = torch.autograd.grad(total_t, tps, allow_unused=True)
    for a, b in zip(ge, gt):
        if b is not None:
            close(a, b, "gradient", rtol=1e-8)
    # expand keeps every value
    ex, tx = e.expand((2,) + tuple(e.batch_shape)), tt.expand((2,) + tuple(tt.batch_shape))
    close(ex.log_prob(t(ember, v[:, None])), tx.log_prob(t(torch, v[:, None])), "expanded log_prob")
    assert tuple(ex.sample((3,)).shape) == tuple(tx.sample((3,)).shape)


HEAVY = {"LogNormal", "FisherSnedecor", "StudentT", "Pareto", "InverseGamma", "Cauchy", "HalfCauchy"}


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_sample_statistics(row):
    """Moments within a few standard errors; heavy-tailed rows (noisy moments) by a two-sample
    Kolmogorov-Smirnov test against torch's sampler instead."""
    ember.manual_seed(3)
    torch.manual_seed(3)
    e, _ = build(row, ember, ED)
    tt, _ = build(row, torch, TD)
    n = 3000
    x = e.sample((n,))
    assert tuple(x.shape) == tuple(tt.sample((n,)).shape) and not x.requires_grad
    assert bool(tt.support.check(torch.from_numpy(x.numpy())).all()), "samples outside the support"
    mean, var = _try(lambda: tt.mean), _try(lambda: tt.variance)
    if row[0] in HEAVY or mean is NotImplemented:
        stats = pytest.importorskip("scipy.stats")
        got, ref = x.numpy().reshape(n, -1), tt.sample((n,)).numpy().reshape(n, -1)
        for i in range(got.shape[1]):
            assert stats.ks_2samp(got[:, i], ref[:, i]).pvalue > 1e-4, f"distribution of element {i}"
        return
    mean, var = mean.numpy(), var.numpy()
    se = np.sqrt(var / n)
    assert np.all(np.abs(x.numpy().mean(0) - mean) < 5 * se + 1e-9), "sample mean"
    np.testing.assert_allclose(x.numpy().var(0), var, rtol=0.2, atol=1e-9, err_msg="sample variance")


def test_gamma_rsample_gradient_is_the_implicit_one():
    """Per sample, d x / d concentration = -(dF/da) / p(x), F the regularized incomplete gamma (scipy's,
    differentiated numerically), and d x / d rate = -x / rate."""
    sp = pytest.importorskip("scipy.special")
    ember.manual_seed(4)
    a, b = t(ember, [0.3, 1.5, 40.0], True), t(ember, [1.0, 2.0, 0.5], True)
    x = ED.Gamma(a, b).rsample((20,))
    ga, gb = ember.autograd.grad(x.sum(), [a, b])
    an, bn, xs = a.detach().numpy(), b.detach().numpy(), x.detach().numpy() * b.detach().numpy()
    h = 1e-6 * an
    upper = xs > an
    dF = np.where(upper, sp.gammaincc(an - h, xs) - sp.gammaincc(an + h, xs),
                  sp.gammainc(an + h, xs) - sp.gammainc(an - h, xs)) / (2 * h)
    pdf = np.exp((an - 1) * np.log(xs) - xs - sp.gammaln(an))
    np.testing.assert_allclose(ga.numpy(), (-dF / pdf / bn).sum(0), rtol=1e-6)
    np.testing.assert_allclose(gb.numpy(), (-x.detach().numpy() / bn).sum(0), rtol=1e-10)
    # torch's own (approximate) implicit gradient agrees to its accuracy
    tg = torch._standard_gamma_grad(torch.tensor(an).expand(20, 3), torch.tensor(xs))
    np.testing.assert_allclose(ga.numpy(), (tg.numpy() / bn).sum(0), rtol=1e-3)


@pytest.mark.parametrize("name", ["Beta", "Dirichlet", "Chi2", "StudentT", "InverseGamma"])
def test_gamma_family_rsample_gradient_is_unbiased(name):
    """E[d sample / d param] = d mean / d param: the pathwise gradients through normalised gammas."""
    row = next(r for r in ROWS if r[0] == name)
    ember.manual_seed(4)
    e, ps = build(row, ember, ED, True)
    tt, tps = build(row, torch, TD, True)
    x = e.rsample((4000,))
    got = ember.autograd.grad(x.mean(0).sum(), ps, allow_unused=True)
    want = torch.autograd.grad(tt.mean.sum(), tps, allow_unused=True)
    for a, b in zip(got, want):
        if b is not None:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0.1, atol=0.04)


def test_gamma_rsample_second_derivative_raises():
    a = ember.tensor([2.0], dtype=ember.float64, requires_grad=True)
    x = ED.Gamma(a, 1.0).rsample((3,))
    (g,) = ember.autograd.grad(x.sum(), a, create_graph=True)
    with pytest.raises(NotImplementedError, match="second derivatives"):
        ember.autograd.grad(g.sum(), a)


# transform, input values
TRANSFORMS = [
    ("Exp", lambda M: M.ExpTransform(), RNG.normal(size=(4,))),
    ("Power", lambda M, L=None: M.PowerTransform(2.5), RNG.uniform(0.2, 3, (4,))),
    ("Sigmoid", lambda M: M.SigmoidTransform(), RNG.normal(size=(4,))),
    ("Softplus", lambda M: M.SoftplusTransform(), RNG.normal(size=(4,))),
    ("Tanh", lambda M: M.TanhTransform(), RNG.normal(size=(4,))),
    ("Affine", lambda M: M.AffineTransform(0.5, -2.0), RNG.normal(size=(4,))),
    ("Affine_event", lambda M: M.AffineTransform(0.5, 3.0, event_dim=1), RNG.normal(size=(2, 4))),
    ("StickBreaking", lambda M: M.StickBreakingTransform(), RNG.normal(size=(2, 3))),
    ("Compose", lambda M: M.ComposeTransform([M.AffineTransform(0.1, 2.0), M.ExpTransform(),
                                              M.PowerTransform(0.5)]), RNG.normal(size=(4,))),
    ("Compose_event", lambda M: M.ComposeTransform([M.ExpTransform(), M.StickBreakingTransform()]),
     RNG.normal(size=(2, 3))),
    ("Independent", lambda M: M.IndependentTransform(M.SigmoidTransform(), 1), RNG.normal(size=(2, 3))),
    ("Reshape", lambda M: M.ReshapeTransform((2, 3), (6,)), RNG.normal(size=(4, 2, 3))),
    ("Cat", lambda M: M.CatTransform([M.ExpTransform(), M.SigmoidTransform()], dim=0, lengths=[2, 2]),
     RNG.normal(size=(4, 3))),
    ("Stack", lambda M: M.StackTransform([M.ExpTransform(), M.TanhTransform()], dim=1), RNG.normal(size=(3, 2))),
]


def _mods(lib):
    return (ET, ED) if lib is ember else (TT, TD)


@pytest.mark.parametrize("name,make,x", TRANSFORMS, ids=[r[0] for r in TRANSFORMS])
def test_transforms_match_torch(name, make, x):
    te, tt = make(ET), make(TT)
    xe, xt = t(ember, x), t(torch, x)
    ye, yt = te(xe), tt(xt)
    close(ye, yt, "forward")
    close(te.inv(ye), tt.inv(yt), "inverse")
    close(te.log_abs_det_jacobian(xe, ye), tt.log_abs_det_jacobian(xt, yt), "log_abs_det_jacobian")
    assert te.domain.event_dim == tt.domain.event_dim and te.codomain.event_dim == tt.codomain.event_dim
    assert te.bijective == tt.bijective
    assert tuple(te.forward_shape(x.shape)) == tuple(tt.forward_shape(torch.Size(x.shape)))


def test_other_transforms_match_torch():
    x = RNG.normal(size=(2, 3, 3))
    for make in (lambda M: M.LowerCholeskyTransform(), lambda M: M.SoftmaxTransform(),
                 lambda M: M.AbsTransform()):
        te, tt = make(ET), make(TT)
        close(te(t(ember, x)), tt(t(torch, x)), "forward")
        close(te.inv(te(t(ember, x))), tt.inv(tt(t(torch, x))), "inverse")
    v = RNG.normal(size=(5,))
    ce = ET.CumulativeDistributionTransform(ED.Normal(t(ember, 0.5), t(ember, 2.0)))
    ct = TT.CumulativeDistributionTransform(TD.Normal(t(torch, 0.5), t(torch, 2.0)))
    close(ce(t(ember, v)), ct(t(torch, v)), "cdf transform")
    close(ce.log_abs_det_jacobian(t(ember, v), None), ct.log_abs_det_jacobian(t(torch, v), None), "cdf ladj")
    close(ce.inv(ce(t(ember, v))), t(torch, v), "icdf")
    cached = ET.ExpTransform(cache_size=1)
    xe = t(ember, v)
    assert cached.inv(cached(xe)) is xe and ET.ExpTransform() == ET.ExpTransform()


KL_PAIRS = [
    ("Gamma", lambda L, D: (D.Gamma(t(L, POS), t(L, POS2)), D.Gamma(t(L, BIG), t(L, POS)))),
    ("Beta", lambda L, D: (D.Beta(t(L, POS), t(L, POS2)), D.Beta(t(L, BIG), t(L, POS)))),
    ("Dirichlet", lambda L, D: (D.Dirichlet(t(L, CONC)), D.Dirichlet(t(L, CONC[::-1].copy())))),
    ("Poisson", lambda L, D: (D.Poisson(t(L, POS)), D.Poisson(t(L, BIG)))),
    ("Binomial", lambda L, D: (D.Binomial(5, probs=t(L, P)), D.Binomial(5, probs=t(L, P[::-1].copy())))),
    ("Binomial_inf", lambda L, D: (D.Binomial(6, probs=t(L, P)), D.Binomial(5, probs=t(L, P[::-1].copy())))),
    ("Geometric", lambda L, D: (D.Geometric(probs=t(L, P)), D.Geometric(probs=t(L, P[::-1].copy())))),
    ("Gumbel", lambda L, D: (D.Gumbel(t(L, LOC), t(L, POS)), D.Gumbel(t(L, -LOC), t(L, POS2)))),
    ("HalfNormal", lambda L, D: (D.HalfNormal(t(L, POS)), D.HalfNormal(t(L, POS2)))),
    ("Pareto", lambda L, D: (D.Pareto(t(L, POS), t(L, BIG)), D.Pareto(t(L, POS2), t(L, POS)))),
    ("Cauchy", lambda L, D: (D.Cauchy(t(L, LOC), t(L, POS)), D.Cauchy(t(L, -LOC), t(L, POS2)))),
    ("LogNormal", lambda L, D: (D.LogNormal(t(L, LOC), t(L, POS)), D.LogNormal(t(L, -LOC), t(L, POS2)))),
    ("Chi2", lambda L, D: (D.Chi2(t(L, BIG)), D.Chi2(t(L, POS)))),
    ("Exponential_Gamma", lambda L, D: (D.Exponential(t(L, POS)), D.Gamma(t(L, BIG), t(L, POS2)))),
    ("Gamma_Exponential", lambda L, D: (D.Gamma(t(L, BIG), t(L, POS2)), D.Exponential(t(L, POS)))),
    ("LowRankMVN", lambda L, D: (D.LowRankMultivariateNormal(t(L, LOC), t(L, W), t(L, POS)),
                                 D.LowRankMultivariateNormal(t(L, -LOC), t(L, W[::-1].copy()), t(L, POS2)))),
]


@pytest.mark.parametrize("name,make", KL_PAIRS, ids=[k[0] for k in KL_PAIRS])
def test_kl_divergence_matches_torch(name, make):
    (ep, eq), (tp, tq) = make(ember, ED), make(torch, TD)
    close(ED.kl_divergence(ep, eq), TD.kl_divergence(tp, tq), "kl")


def test_exponential_family_bregman_fallback():
    """The generic exponential-family entropy and KL (autograd of the log-normalizer) equal the closed forms."""
    p, q = ED.Gamma(t(ember, POS), t(ember, POS2)), ED.Gamma(t(ember, BIG), t(ember, POS))
    close(ED.ExponentialFamily.entropy(p), p.entropy(), "entropy")
    from ember.distributions.kl_more import _kl_expfamily_expfamily

    close(_kl_expfamily_expfamily(p, q), ED.kl_divergence(p, q), "kl")


def test_gamma_cdf_gradient_matches_density():
    a = t(ember, POS, True)
    x = t(ember, [0.5, 1.0, 7.0], True)
    d = ED.Gamma(a, 1.0)
    (gx,) = ember.autograd.grad(d.cdf(x).sum(), x)
    close(gx, d.log_prob(x).exp(), "dcdf/dx = pdf")


def test_enumerate_support_and_straight_through():
    b = ED.Binomial(3, probs=t(ember, P))
    close(b.enumerate_support(), TD.Binomial(3, probs=t(torch, P)).enumerate_support(), "support")
    logits = ember.zeros(3, requires_grad=True)
    d = ED.OneHotCategoricalStraightThrough(logits=logits)
    s = d.rsample((5,))
    assert set(np.unique(s.detach().numpy())) <= {0.0, 1.0}
    (g,) = ember.autograd.grad((s * ember.tensor([1.0, 2.0, 3.0])).sum(), logits)
    tl = torch.zeros(3, requires_grad=True)
    (tg,) = torch.autograd.grad((TD.OneHotCategorical(logits=tl).probs * torch.tensor([1.0, 2.0, 3.0])).sum() * 5,
                                tl)
    close(g, tg, "straight-through gradient")


@pytest.mark.parametrize("bad, kind, match", [
    (lambda: ED.Gamma(-1.0, 1.0), ValueError, "concentration"),
    (lambda: ED.Beta(1.0, 0.0), ValueError, "concentration"),
    (lambda: ED.Dirichlet(ember.tensor(1.0)), ValueError, "one-dimensional"),
    (lambda: ED.Poisson(-1.0), ValueError, "rate"),
    (lambda: ED.Poisson(1.0).log_prob(ember.tensor(0.5)), ValueError, "support"),
    (lambda: ED.Binomial(3, probs=ember.tensor(0.5)).log_prob(ember.tensor(4.0)), ValueError, "support"),
    (lambda: ED.Binomial(ember.tensor([2.0, 3.0]), probs=ember.tensor(0.5)).entropy(), NotImplementedError,
     "inhomogeneous"),
    (lambda: ED.Geometric(), ValueError, "either probs or logits"),
    (lambda: ED.Multinomial(ember.tensor(3), probs=ember.tensor([0.5, 0.5])), NotImplementedError, "int"),
    (lambda: ED.LogNormal(0.0, -1.0), ValueError, "scale"),
    (lambda: ED.LogNormal(0.0, 1.0).log_prob(ember.tensor(-1.0)), ValueError, "support"),
    (lambda: ED.Beta(2.0, 2.0).log_prob(ember.tensor(1.5)), ValueError, "support"),
    (lambda: ED.MixtureSameFamily(ED.Normal(0.0, 1.0), ED.Normal(ember.zeros(2), 1.0)), ValueError,
     "Categorical"),
    (lambda: ED.MixtureSameFamily(ED.Categorical(logits=ember.zeros(3)), ED.Normal(ember.zeros(2), 1.0)),
     ValueError, "components"),
    (lambda: ED.LowRankMultivariateNormal(ember.zeros(3), ember.zeros(2, 1), ember.ones(3)), ValueError,
     "cov_factor"),
    (lambda: ET.ReshapeTransform((2, 3), (5,)), ValueError, "elements"),
    (lambda: ED.TransformedDistribution(ED.Normal(0.0, 1.0), "exp"), ValueError, "Transform"),
    (lambda: ED.TransformedDistribution(ED.Normal(0.0, 1.0), ET.StickBreakingTransform()), ValueError,
     "at least 1"),
    (lambda: ED.SoftmaxTransform().log_abs_det_jacobian(ember.zeros(2), ember.zeros(2)), NotImplementedError,
     "log_abs_det_jacobian"),
    (lambda: ED.kl_divergence(ED.Binomial(2, probs=ember.tensor(0.5)), ED.Binomial(3, probs=ember.tensor(0.5))),
     NotImplementedError, "total_count"),
    (lambda: ED.Poisson(1.0).entropy(), NotImplementedError, "entropy"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_mistakes_raise_clear_errors(bad, kind, match):
    with pytest.raises(kind, match=match):
        bad()
    assert math.isfinite(ED.Gamma(-1.0, 1.0, validate_args=False).mean.item())
