"""Composites over the primitives, with PyTorch's names and signatures (no backward code of their own)."""
from . import index, linalg, math, reduce, shape


def _public(module):
    """Functions defined in ``module`` itself (not the names it imported)."""
    return {n: v for n, v in vars(module).items()
            if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == module.__name__}


PUBLIC = {}
for _mod in (math, reduce, shape, index, linalg):
    PUBLIC.update(_public(_mod))
PUBLIC.update(clip=math.clamp, concat=shape.cat, concatenate=shape.cat, swapaxes=shape.transpose,
              swapdims=shape.transpose, values_indices=reduce.values_indices)
globals().update(PUBLIC)
__all__ = sorted(PUBLIC)
