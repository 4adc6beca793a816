"""``torch.distributions``: probability distributions with ``sample``/``rsample``/``log_prob``/``entropy``
and ``kl_divergence``, following PyTorch's parametrisations and formulas (tested against PyTorch).

>>> import ember
>>> from ember.distributions import Categorical
>>> m = Categorical(probs=ember.tensor([0.25, 0.75]))
>>> m.log_prob(ember.tensor(1))
tensor(-0.2877)
"""
from . import constraints
from .continuous import Exponential, Laplace, MultivariateNormal, Normal, Uniform
from .discrete import Bernoulli, Categorical, OneHotCategorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl

__all__ = ["Distribution", "Normal", "Uniform", "Exponential", "Laplace", "MultivariateNormal", "Bernoulli",
           "Categorical", "OneHotCategorical", "Independent", "kl_divergence", "register_kl", "constraints"]
