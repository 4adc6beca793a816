"""Testing utilities: numerical gradient checks and a tolerant comparison with a readable report.

>>> import ember
>>> from ember.testing import assert_close, gradcheck, gradgradcheck
>>> x = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
>>> gradcheck(lambda t: (t * t).sin(), (x,))
True
>>> gradgradcheck(lambda t: (t * t).sin(), (x,))
True
>>> assert_close(ember.tensor([1.0, 2.0]), [1.0, 2.0])
"""

from ._close import assert_close
from ._gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["assert_close", "gradcheck", "gradgradcheck", "GradcheckError"]
