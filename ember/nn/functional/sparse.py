"""embedding and one_hot.

>>> import ember
>>> import ember.nn.functional as F
>>> F.one_hot(ember.tensor([0, 2]), 3)
tensor([[1, 0, 0],
        [0, 0, 1]])
"""
from __future__ import annotations

from ...autograd import no_grad
from ...creation import arange, as_tensor
from ...errors import mark, with_user_line
from ...functional.math import cast
from ...ops import apply, composite
from ...tensor import Tensor
from . import _layer_binds as _binds

__all__ = ["embedding", "one_hot"]


def _as_index(input, name):
    if not isinstance(input, Tensor):
        input = as_tensor(input)
    if input._data.dtype.kind not in "iu":
        raise mark(with_user_line(TypeError(
            f"{name}: indices must be an integer tensor, got {input.dtype.name} of shape "
            f"{tuple(input.shape)}; "
            "convert them with .long()"), 3))
    return input


@composite("embedding", _binds.embedding)
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by integer ``input``; the ``padding_idx`` row gets no gradient.

    >>> w = ember.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    >>> F.embedding(ember.tensor([[2, 1]]), w)
    tensor([[[3., 4.],
             [1., 2.]]])
    """
    input = _as_index(input, "embedding")
    n = weight.shape[0]
    _check_range(input, -n, n, f"embedding: index {{value}} is out of range for an embedding table with {n} "
                 f"rows (weight {tuple(weight.shape)}); indices must lie in [0, {n - 1}]", "IndexError")
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    out = weight[input]
    if padding_idx is not None and weight.requires_grad:
        pad = padding_idx % n
        keep = apply("ne", input, input._scalar(pad)).unsqueeze(-1)
        out = apply("where", keep, out, out.detach())
    return out


def _check_range(index, lo, hi, message, error):
    """Raise (eagerly and in a compiled graph alike) unless every element lies in [lo, hi)."""
    ok = apply("logical_and", apply("ge", index, index._scalar(lo)), apply("lt", index, index._scalar(hi)))
    apply("assert_all", ok, index, message=message, error=error)


def _renorm_rows(weight, input, max_norm, norm_type):
    """Rescale, in place, the looked-up rows of ``weight`` whose ``norm_type`` norm exceeds ``max_norm``
    (a row looked up twice is written twice with the same value)."""
    with no_grad():
        rows = input.reshape(-1)
        sel = weight.detach()[rows]
        norms = (sel.abs() ** norm_type).sum(1) ** (1.0 / norm_type)
        scale = apply("where", apply("gt", norms, norms._scalar(float(max_norm))),
                      max_norm / (norms + 1e-7), norms._scalar(1.0))
        weight[rows] = sel * scale.unsqueeze(1)


def one_hot(tensor, num_classes=-1):
    """An int64 tensor with a trailing dim of size ``num_classes`` that is 1 at each index.

    With ``num_classes=-1`` the count is one more than the largest index.

    >>> F.one_hot(ember.tensor([1, 0]))
    tensor([[0, 1],
            [1, 0]])
    """
    tensor = _as_index(tensor, "one_hot")
    if num_classes == -1:  # the output's shape depends on the values: a graph break when compiled
        num_classes = int(tensor.max()) + 1 if tensor.numel() else 0
    _check_range(tensor, 0, num_classes, f"one_hot: class values must be in [0, {num_classes - 1}], got "
                 "{value}", "RuntimeError")
    classes = arange(num_classes, device=tensor.device)
    return cast(apply("eq", tensor.unsqueeze(-1), classes), "int64")
