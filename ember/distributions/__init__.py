"""``torch.distributions``: probability distributions with ``sample``/``rsample``/``log_prob``/``entropy``
and ``kl_divergence``, following PyTorch's parametrisations and formulas (tested against PyTorch).

>>> import ember
>>> from ember.distributions import Categorical
>>> m = Categorical(probs=ember.tensor([0.25, 0.75]))
>>> m.log_prob(ember.tensor(1))
tensor(-0.2877)
"""
from . import constraints, transforms
from .circular import ContinuousBernoulli, VonMises
from .continuous import Exponential, Laplace, MultivariateNormal, Normal, Uniform
from .continuous_more import Cauchy, LowRankMultivariateNormal
from .discrete import Bernoulli, Categorical, OneHotCategorical
from .discrete_more import Binomial, Geometric, Multinomial, NegativeBinomial, OneHotCategoricalStraightThrough, Poisson
from .distribution import Distribution
from .gamma_family import Beta, Chi2, Dirichlet, ExponentialFamily, FisherSnedecor, Gamma, InverseGamma, StudentT
from .independent import Independent
from .kl import kl_divergence, register_kl
from .kl_more import _kl_gamma_gamma  # noqa: F401  (registers the closed forms)
from .mixture import MixtureSameFamily
from .relaxed import ExpRelaxedCategorical, LogitRelaxedBernoulli, RelaxedBernoulli, RelaxedOneHotCategorical
from .transformed import (
    Gumbel,
    HalfCauchy,
    HalfNormal,
    Kumaraswamy,
    LogNormal,
    Pareto,
    TransformedDistribution,
    Weibull,
)
from .transforms import (
    AbsTransform,
    AffineTransform,
    CatTransform,
    ComposeTransform,
    CumulativeDistributionTransform,
    ExpTransform,
    IndependentTransform,
    LowerCholeskyTransform,
    PowerTransform,
    ReshapeTransform,
    SigmoidTransform,
    SoftmaxTransform,
    SoftplusTransform,
    StackTransform,
    StickBreakingTransform,
    TanhTransform,
    Transform,
)

__all__ = ["Distribution", "ExponentialFamily", "Normal", "Uniform", "Exponential", "Laplace", "MultivariateNormal",
           "LowRankMultivariateNormal", "Cauchy", "VonMises", "ContinuousBernoulli", "Bernoulli", "Categorical",
           "OneHotCategorical",
           "OneHotCategoricalStraightThrough", "Binomial", "Geometric", "Multinomial", "NegativeBinomial", "Poisson",
           "Beta", "Chi2", "Dirichlet", "FisherSnedecor", "Gamma", "InverseGamma", "StudentT", "Independent",
           "MixtureSameFamily", "ExpRelaxedCategorical", "LogitRelaxedBernoulli", "RelaxedBernoulli",
           "RelaxedOneHotCategorical", "Gumbel", "HalfCauchy", "HalfNormal", "Kumaraswamy", "LogNormal", "Pareto",
           "TransformedDistribution", "Weibull", "AbsTransform", "AffineTransform", "CatTransform",
           "ComposeTransform", "CumulativeDistributionTransform", "ExpTransform", "IndependentTransform",
           "LowerCholeskyTransform", "PowerTransform", "ReshapeTransform", "SigmoidTransform", "SoftmaxTransform",
           "SoftplusTransform", "StackTransform", "StickBreakingTransform", "TanhTransform", "Transform",
           "kl_divergence", "register_kl", "constraints", "transforms"]
