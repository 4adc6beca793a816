"""``signbit``: whether each element's sign bit is set (true for -0.0 and a negative NaN, which no comparison
can tell), the one primitive ``ember.signbit`` and ``ember.copysign`` need. Not differentiable.

>>> import ember
>>> from ember.ops import apply
>>> apply("signbit", ember.tensor([-0.0, 0.0, -2.0])).tolist()
[True, False, True]
"""
from __future__ import annotations

from ..dtypes import bool_
from ._core import Aval, register, register_lowering, unsupported


def _signbit_rule(x):
    return Aval(x.shape, bool_, x.device)


register("signbit", lambda xp, x: xp.signbit(x), infer=_signbit_rule, kind="elementwise")
register_lowering("signbit", "numba", "np.signbit({0})")
register_lowering("signbit", "cuda", "signbit({0})")
unsupported("signbit", "onnx", "ONNX has no sign-bit operator (Sign maps -0.0 to 0); compare with 0 instead")
unsupported("signbit", "tflite", "TFLite has no sign-bit operator (SIGN maps -0.0 to 0); compare with 0 instead")
