"""``torch.special``: the special functions under PyTorch's ``special`` names. The functions live in
``ember/functional/special.py`` (and, for the aliases, where Ember already had them); this module only names them.

>>> import ember
>>> ember.special.gammaln(ember.tensor([4.0]))
tensor([1.7918])
>>> ember.special.expit(ember.tensor([0.0]))
tensor([0.5000])
"""
from __future__ import annotations

from .functional import linalg as _linalg
from .functional import math as _math
from .functional import math_more as _more
from .functional import reduce as _reduce
from .functional import special as _special

__all__ = ["erf", "erfc", "erfcx", "erfinv", "expit", "logit", "exp2", "expm1", "log1p", "gammaln", "digamma",
           "psi", "polygamma", "multigammaln", "i0", "i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr", "logsumexp",
           "softmax", "log_softmax", "round", "sinc", "xlogy", "xlog1py", "entr", "zeta",
           "gammainc", "gammaincc"]

# the special functions (ember/functional/special.py)
digamma, entr, erfc, erfcx, erfinv, i0, i0e = (_special.digamma, _special.entr, _special.erfc, _special.erfcx,
                                               _special.erfinv, _special.i0, _special.i0e)
i1, i1e, lgamma, log_ndtr, mvlgamma, ndtr = (_special.i1, _special.i1e, _special.lgamma, _special.log_ndtr,
                                             _special.mvlgamma, _special.ndtr)
ndtri, polygamma, xlog1py, zeta = _special.ndtri, _special.polygamma, _special.xlog1py, _special.zeta
gammainc, gammaincc = _special.igamma, _special.igammac
# torch.special's aliases of functions Ember already has
erf, expit, expm1, log1p, round = _math.erf, _math.sigmoid, _math.expm1, _math.log1p, _math.round
logit, exp2, sinc, xlogy = _more.logit, _more.exp2, _more.sinc, _more.xlogy
gammaln, psi, multigammaln = lgamma, digamma, mvlgamma
logsumexp = _reduce.logsumexp
softmax, log_softmax = _linalg.softmax, _linalg.log_softmax
