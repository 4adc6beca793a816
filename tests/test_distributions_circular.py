"""VonMises and ContinuousBernoulli against torch.distributions in float64: one row per (distribution, quantity),
gradients of log_prob w.r.t. the parameters, sampling statistics on a fixed seed, and one row per mistake.

torch's VonMises evaluates log I0 / log I1 with a 7-digit polynomial fit; Ember uses the scaled Bessel functions
``i0e``/``i1e``, so those rows compare with torch's own formula at rtol 1e-6 and with the exact Bessel values
(torch.special in float64) at rtol 1e-10."""
import math

import numpy as np
import pytest

import ember
from ember import distributions as ED

torch = pytest.importorskip("torch")
TD = torch.distributions

RNG = np.random.default_rng(7)
LOC = RNG.uniform(-3, 3, (4,))
KAPPA = np.array([1e-6, 0.3, 2.0, 40.0])
ANGLES = RNG.uniform(-7, 7, (5, 4))
# probs on both sides of 0.5, inside the Taylor window (lims) and at the clamped ends
PROBS = np.array([1e-3, 0.2, 0.4995, 0.5, 0.5007, 0.8, 0.999])
LOGITS = np.array([-6.0, -1.0, -1e-3, 0.0, 2e-3, 1.5, 6.0])
UNIT = RNG.uniform(0.02, 0.98, (5, 7))


def t(lib, a, grad=False):
    x = lib.tensor(np.asarray(a, dtype=np.float64), dtype=lib.float64)
    return x.requires_grad_() if grad else x


def close(got, want, what, rtol=1e-10):
    got = got.detach().numpy() if hasattr(got, "detach") else np.asarray(got)
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-13, err_msg=what)


# name, constructor(lib, D, *params), params (differentiated), values
ROWS = [
    ("VonMises", lambda L, D, m, k: D.VonMises(m, k), [LOC, KAPPA], ANGLES),
    ("ContinuousBernoulli_probs", lambda L, D, p: D.ContinuousBernoulli(probs=p), [PROBS], UNIT),
    ("ContinuousBernoulli_logits", lambda L, D, lg: D.ContinuousBernoulli(logits=lg), [LOGITS], UNIT),
    ("ContinuousBernoulli_lims", lambda L, D, p: D.ContinuousBernoulli(probs=p, lims=(0.4, 0.6)), [PROBS], UNIT),
]
IDS = [r[0] for r in ROWS]


def build(row, lib, D, grad=False):
    ps = [t(lib, p, grad) for p in row[2]]
    return row[1](lib, D, *ps), ps


def _vm_exact(name, loc, k, v=None):
    """VonMises quantities from torch.special's float64 Bessel functions (the exact values)."""
    k = torch.tensor(k)
    if name == "log_prob":
        return k * torch.cos(torch.tensor(v) - torch.tensor(loc)) - math.log(2 * math.pi) - \
            (torch.special.i0e(k).log() + k)
    return 1 - torch.special.i1e(k) / torch.special.i0e(k)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_values_and_gradients_match_torch(row):
    (e, eps), (tt, tps) = build(row, ember, ED, True), build(row, torch, TD, True)
    assert tuple(e.batch_shape) == tuple(tt.batch_shape) and e.has_rsample == tt.has_rsample
    assert e.support is ED.constraints.real if row[0] == "VonMises" else ED.constraints.unit_interval
    v = row[3]
    vm = row[0] == "VonMises"
    rtol = 1e-6 if vm else 1e-10
    lp_e, lp_t = e.log_prob(t(ember, v)), tt.log_prob(t(torch, v))
    close(lp_e, lp_t, "log_prob", rtol)
    if vm:
        close(lp_e, _vm_exact("log_prob", LOC, KAPPA, v), "log_prob exact")
        close(e.variance, _vm_exact("variance", LOC, KAPPA), "variance exact")
        close(e.mode, tt.mode, "mode")
    else:
        close(e.entropy(), tt.entropy(), "entropy")
        close(e.cdf(t(ember, v)), tt.cdf(t(torch, v)), "cdf")
        close(e.icdf(t(ember, v)), tt.icdf(t(torch, v)), "icdf")
        close(e.stddev, tt.stddev, "stddev")
    close(e.mean, tt.mean, "mean")
    close(e.variance, tt.variance, "variance", 1e-4 if vm else 1e-10)  # torch: 1 - exp(fit - fit)
    g_e = ember.autograd.grad(lp_e.sum(), eps)
    g_t = torch.autograd.grad(lp_t.sum(), tps)
    for a, b in zip(g_e, g_t):
        close(a, b, "grad log_prob", 1e-5 if vm else 1e-9)
    ex = e.expand((3, *e.batch_shape))
    assert tuple(ex.batch_shape) == (3, *e.batch_shape)
    close(ex.log_prob(t(ember, v[0])), tt.expand((3, *tt.batch_shape)).log_prob(t(torch, v[0])), "expand", rtol)


def test_continuous_bernoulli_cdf_ends_kl_and_rsample_gradient():
    e, te = ED.ContinuousBernoulli(probs=t(ember, PROBS)), TD.ContinuousBernoulli(probs=t(torch, PROBS))
    ends = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    close(e.cdf(t(ember, ends)), te.cdf(t(torch, ends)), "cdf at 0 and 1")
    q = PROBS[::-1].copy()
    close(ED.kl_divergence(e, ED.ContinuousBernoulli(probs=t(ember, q))),
          TD.kl_divergence(te, TD.ContinuousBernoulli(probs=t(torch, q))), "kl", 1e-8)
    # rsample is icdf(u): its gradient w.r.t. probs equals the icdf's at the same u
    p = t(ember, [0.2, 0.7], True)
    ember.manual_seed(3)
    s = ED.ContinuousBernoulli(probs=p).rsample((4,))
    (g,) = ember.autograd.grad(s.sum(), p)
    ember.manual_seed(3)
    u = ember.rand(4, 2, dtype=ember.float64)
    pt = t(torch, [0.2, 0.7], True)
    (gt,) = torch.autograd.grad(TD.ContinuousBernoulli(probs=pt).icdf(torch.tensor(u.numpy())).sum(), pt)
    close(g, gt, "rsample grad", 1e-9)
    ember.manual_seed(0)
    x = ED.ContinuousBernoulli(probs=t(ember, [0.1, 0.5, 0.85])).sample((40000,)).numpy()
    ref = TD.ContinuousBernoulli(probs=t(torch, [0.1, 0.5, 0.85]))
    want, sd = ref.mean.numpy(), ref.stddev.numpy()
    assert ((x >= 0) & (x <= 1)).all()
    assert (np.abs(x.mean(0) - want) < 4 * sd / math.sqrt(len(x))).all()


def test_von_mises_sampling_statistics():
    ember.manual_seed(0)
    d = ED.VonMises(t(ember, [0.5, -2.0, 3.0]), t(ember, [0.5, 4.0, 1e-8]))
    x = d.sample((30000,))
    assert x.dtype == ember.float64 and tuple(x.shape) == (30000, 3)
    a = x.numpy()
    assert (a >= -math.pi).all() and (a < math.pi).all()
    z = np.exp(1j * (a - np.array([0.5, -2.0, 3.0]))).mean(0)
    r_want = 1 - d.variance.numpy()  # the mean resultant length I1/I0
    # the resultant's standard error per component is below sqrt(1/(2n)) = 0.0041
    assert np.abs(z.real - r_want).max() < 0.02 and np.abs(z.imag).max() < 0.02
    x32 = ED.VonMises(ember.tensor(0.0), ember.tensor(1e-4)).sample((10,))
    assert x32.dtype == ember.float32 and tuple(x32.shape) == (10,)


@pytest.mark.parametrize("make, exc, words", [
    (lambda: ED.VonMises(ember.tensor(0.0), ember.tensor(-1.0)), ValueError, "concentration"),
    (lambda: ED.VonMises(ember.tensor(0.0), ember.tensor(1.0)).log_prob(1.0), ValueError, "must be a tensor"),
    (lambda: ED.VonMises(ember.tensor(0.0), ember.tensor(1.0)).rsample(), NotImplementedError, "rsample"),
    (lambda: ED.ContinuousBernoulli(), ValueError, "either probs or logits"),
    (lambda: ED.ContinuousBernoulli(probs=0.5, logits=0.0), ValueError, "either probs or logits"),
    (lambda: ED.ContinuousBernoulli(probs=ember.tensor(1.5)), ValueError, "probs in [0, 1]"),
    (lambda: ED.ContinuousBernoulli(probs=0.3, lims=(0.6, 0.7)), ValueError, "lims"),
    (lambda: ED.ContinuousBernoulli(probs=0.3, lims=0.5), TypeError, "lims"),
    (lambda: ED.ContinuousBernoulli(probs=0.3).log_prob(ember.tensor(1.5)), ValueError, "support"),
    (lambda: ED.ContinuousBernoulli(probs=0.3).mode, NotImplementedError, "mode"),
], ids=["vm_negative_kappa", "vm_value_not_tensor", "vm_no_rsample", "cb_neither", "cb_both", "cb_probs_range",
        "cb_lims_order", "cb_lims_type", "cb_value_support", "cb_no_mode"])
def test_errors(make, exc, words):
    with pytest.raises(exc, match=None) as info:
        make()
    assert words in str(info.value)


def test_validate_args_false_skips_checks():
    d = ED.ContinuousBernoulli(probs=ember.tensor(1.5), validate_args=False)
    assert float(d.probs) < 1
    ED.VonMises(ember.tensor(0.0), ember.tensor(-1.0), validate_args=False)
