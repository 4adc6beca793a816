"""Ember's primitives: one registry, one dispatch point (``apply``). See docs/internals.md."""
from ._core import REGISTRY, Aval, Op, apply, get, register  # noqa: F401,I001
from . import elementwise, reduction, shape, indexing, linalg, random  # noqa: F401,E402,I001
from . import nn  # noqa: F401,E402,I001  (fused nn primitives: relu, softmax_cross_entropy, linear)
from . import conv, rnn  # noqa: F401,E402  (im2col/col2im, max-pool select/scatter, fused LSTM)
from . import math_extra, decomp  # noqa: F401,E402  (inverse trig/hyperbolic; linalg matrix functions)
