"""linear and bilinear (torch.nn.functional.linear / bilinear).

>>> import ember
>>> import ember.nn.functional as F
>>> F.linear(ember.ones(2, 3), ember.ones(4, 3), ember.zeros(4)).shape
ember.Size([2, 4])
"""
from __future__ import annotations

from ..._autocast import autocast_op
from ...errors import mark, with_user_line
from ...functional.linalg import matmul
from ...ops import apply
from ...tensor import Tensor

__all__ = ["linear", "bilinear"]


def _bad_features(name, x, w, what="in_features"):
    return mark(with_user_line(RuntimeError(
        f"{name}: input of shape {tuple(x.shape)} has {x.shape[-1] if x.ndim else 0} features in its last "
        f"dim but the weight {tuple(w.shape)} expects {w.shape[-1]} ({what}). Reshape the input (e.g. "
        "x.view(x.size(0), -1)) "
        "or build the layer with the right in_features."), 3))


@autocast_op
def linear(input, weight, bias=None):
    """input @ weight.T + bias; one fused primitive when there is a 1-D bias and dtypes agree (a 1-D input too:
    one node per call instead of three, for the per-sample loops of reinforcement learning).

    >>> F.linear(ember.ones(4, 3), ember.ones(2, 3), ember.tensor([0.0, 1.0]))
    tensor([[3., 4.],
            [3., 4.],
            [3., 4.],
            [3., 4.]])
    """
    if not isinstance(input, Tensor):
        raise mark(with_user_line(TypeError(
            f"linear: expected an ember.Tensor input, got {type(input).__name__}; convert it with "
            "ember.tensor()"), 2))
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise _bad_features("linear", input, weight)
    if input._data.dtype != weight._data.dtype:
        raise mark(with_user_line(RuntimeError(
            f"linear: input dtype {input.dtype.name} does not match the weight dtype {weight.dtype.name} "
            f"(input {tuple(input.shape)}, weight {tuple(weight.shape)}); convert the input with "
            f"x.to({weight.dtype.name}) "
            "or the layer with .to(dtype)"), 2))
    if bias is not None and bias._data.dtype == weight._data.dtype and bias.ndim == 1:
        return apply("linear", input, weight, bias)
    out = matmul(input, weight.t())
    return out if bias is None else out + bias


@autocast_op
def bilinear(input1, input2, weight, bias=None):
    """out[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o].

    Shapes: (N, in1), (N, in2) and a (out, in1, in2) weight give (N, out).

    >>> F.bilinear(ember.ones(2, 3), ember.ones(2, 4), ember.ones(5, 3, 4)).shape
    ember.Size([2, 5])
    """
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2] or \
            tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise mark(with_user_line(RuntimeError(
            f"bilinear: inputs {tuple(input1.shape)} and {tuple(input2.shape)} do not fit the weight "
            f"{tuple(weight.shape)} (expected (..., {weight.shape[1]}) and (..., {weight.shape[2]}) with "
            "the same leading dims)"), 2))
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, input1.shape[-1])
    x2 = input2.reshape(-1, input2.shape[-1])
    out = apply("einsum", x1, weight, x2, equation="bi,oij,bj->bo")
    if bias is not None:
        out = out + bias
    return out.reshape(*lead, weight.shape[0])
