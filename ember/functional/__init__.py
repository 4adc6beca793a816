"""Composites over the primitives, with PyTorch's names and signatures (no backward code of their own)."""
from .. import _numpy_names
from . import (
    complex_numbers,
    index,
    linalg,
    linalg_more,
    math,
    math_extra,
    math_more,
    math_tail,
    reduce,
    scatter,
    shape,
    shape_more,
    special,
)


def _public(module):
    """Functions defined in ``module`` itself (not the names it imported)."""
    return {n: v for n, v in vars(module).items()
            if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == module.__name__}


# helpers the composites share, not part of torch's namespace
_INTERNAL = {"binary", "builtins_max", "as_tensor_like", "normalize_key", "getitem", "setitem", "cast", "convert"}
PUBLIC = {}
for _mod in (math, reduce, shape, index, linalg, math_extra, math_more, shape_more, linalg_more, math_tail, scatter,
             complex_numbers):
    # torch's rule for `axis=`/`keepdims=` (ember/_numpy_names.py); Tensor's own methods: ember/__init__.py
    _numpy_names.install(_mod, list(_public(_mod)), _numpy_names.PYTHON_LEVEL)
    PUBLIC.update({k: v for k, v in _public(_mod).items() if k not in _INTERNAL})
PUBLIC.update(clip=math.clamp, concat=shape.cat, concatenate=shape.cat, swapaxes=shape.transpose,
              swapdims=shape.transpose, values_indices=reduce.values_indices,
              # PyTorch's aliases of names above
              absolute=math.abs, multiply=math.mul, subtract=math.sub, divide=math.div, negative=math.neg,
              not_equal=math.ne, greater=math.gt, greater_equal=math.ge, less=math.lt, less_equal=math.le,
              fix=math.trunc, trapz=math_more.trapezoid, arctan2=math_extra.atan2,
              range=shape_more._torch_range)  # (not a def named range: the module's own loops use the builtin)
PUBLIC.update({_n: getattr(special, _n) for _n in special.TOP_LEVEL})  # the rest: ember.special
globals().update(PUBLIC)
__all__ = sorted(PUBLIC)
