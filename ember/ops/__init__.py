"""Ember's primitives: one registry, one dispatch point (``apply``). See docs/internals.md."""
from ._core import (REGISTRY, Aval, Op, Unsupported, apply, composite, get, register, register_layer,  # noqa: F401,I001
                    register_lowering, unsupported, update_primitive)
from . import elementwise, reduction, shape, indexing, linalg, random  # noqa: F401,E402,I001
from . import nn  # noqa: F401,E402,I001  (fused nn primitives: relu, softmax_cross_entropy, linear)
from . import conv, rnn, winograd, winograd_pool  # noqa: F401,E402  (im2col/col2im, max-pool select/scatter, LSTM, Winograd)
from . import conv_forms  # noqa: F401,E402  (shift-sum and channels-last convolution forms)
from . import layers  # noqa: F401,E402  (layer ops: conv, pools, norms, embedding, RNNs, attention)
from . import checks, optim  # noqa: F401,E402  (assert_all value checks; adam_step)
from . import batch_stats  # noqa: F401,E402  (batch norm's training core)
from . import math_extra, decomp, decomp_lu  # noqa: F401,E402  (inverse trig/hyperbolic; linalg matrix functions)
from . import bitwise  # noqa: F401,E402  (bitwise_and/or/xor/not and shifts on integer tensors)
from . import gelu  # noqa: F401,E402  (GELU's exact form and its gradient, one pass each)
from . import signbit  # noqa: F401,E402  (the sign bit: -0.0 and negative NaNs)
from . import scatter_reduce  # noqa: F401,E402  (scatter with sum/prod/mean/amax/amin, include_self)
from . import numbers  # noqa: F401,E402  (gcd, nextafter, frexp: the representation of numbers)
from . import special  # noqa: F401,E402  (lgamma, digamma, polygamma, erfc, erfinv, i0, zeta, ...)
from . import complex, fft  # noqa: F401,E402  (complex numbers' parts and views; the FFTs under ember.fft)
