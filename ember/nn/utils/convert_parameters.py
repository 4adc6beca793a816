"""parameters_to_vector / vector_to_parameters (PyTorch's torch.nn.utils helpers).

>>> import ember
>>> from ember import nn
>>> m = nn.Linear(3, 2)
>>> v = nn.utils.parameters_to_vector(m.parameters())
>>> v.shape
ember.Size([8])
>>> nn.utils.vector_to_parameters(v * 0, m.parameters())
>>> float(m.weight.abs().sum())
0.0
"""
from __future__ import annotations

from ...autograd import no_grad
from ...errors import mark, with_user_line
from ...functional.shape import cat
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into the parameters (in place)."""
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise mark(with_user_line(TypeError(
            f"vector_to_parameters: expected a 1-D tensor, got {getattr(vec, 'shape', type(vec).__name__)}"),
            2))
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    total = sum(p.numel() for p in params)
    if total != vec.numel():
        raise mark(with_user_line(ValueError(
            f"vector_to_parameters: the vector has {vec.numel()} elements but the parameters hold {total}"),
            2))
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[offset:offset + n].reshape(*p.shape))
            offset += n
