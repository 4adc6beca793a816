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
    """Rows of ``weight`` picked by integer ``input``; the ``padding_idx`` row gets no gradient."""
    input = _as_index(input, "embedding")
    n = weight.shape[0]
    if input.numel():
        lo, hi = int(input._data.min()), int(input._data.max())
        if lo < -n or hi >= n:
            raise mark(with_user_line(IndexError(
                f"embedding: index {hi if hi >= n else lo} is out of range for an embedding table with {n} "
                f"rows (weight {tuple(weight.shape)}); indices must lie in [0, {n - 1}]"), 2))
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    out = weight[input]
    if padding_idx is not None and weight.requires_grad:
        pad = padding_idx % n
        keep = apply("ne", input, input._scalar(pad)).unsqueeze(-1)
        out = apply("where", keep, out, out.detach())
    return out


def _renorm_rows(weight, input, max_norm, norm_type):
    from ... import backend

    with no_grad():
        xp = backend.xp_of(weight._data)
        rows = xp.unique(input._data.reshape(-1))
        sel = weight._data[rows]
        norms = (xp.abs(sel) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(sel.dtype)
        weight._data[rows] = sel * scale[:, None]
        weight._bump("embedding_renorm")


def one_hot(tensor, num_classes=-1):
    """An int64 tensor with a trailing dim of size ``num_classes`` that is 1 at each index."""
    tensor = _as_index(tensor, "one_hot")
    if num_classes == -1:
        num_classes = int(tensor._data.max()) + 1 if tensor.numel() else 0
    if tensor.numel() and (int(tensor._data.min()) < 0 or int(tensor._data.max()) >= num_classes):
        raise mark(with_user_line(RuntimeError(
            f"one_hot: class values must be in [0, {num_classes - 1}], got values in "
            f"[{int(tensor._data.min())}, {int(tensor._data.max())}]"), 2))
    classes = arange(num_classes, device=tensor.device)
    return cast(apply("eq", tensor.unsqueeze(-1), classes), "int64")
