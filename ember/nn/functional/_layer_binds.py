"""How calls of nn.functional layers map to layer ops (``ember.ops.composite(name, bind)``): each ``bind``
takes the function's own arguments and returns (input tensors, attrs) or None when the call is not that
layer (training-mode batch norm updates state; an invalid argument raises in the function itself)."""
from __future__ import annotations


def _present(*ts):
    return [t for t in ts if t is not None]


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    if training or running_mean is None or running_var is None or input.ndim < 2:
        return None
    return ([input, running_mean, running_var] + _present(weight, bias),
            {"eps": float(eps), "affine": (weight is not None, bias is not None)})


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    ndim = 1 if isinstance(normalized_shape, int) else len(tuple(normalized_shape))
    return [input] + _present(weight, bias), {"ndim": ndim, "eps": float(eps),
                                              "affine": (weight is not None, bias is not None)}


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    return [input] + _present(weight, bias), {"num_groups": int(num_groups), "eps": float(eps),
                                              "affine": (weight is not None, bias is not None)}


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        return None
    return [input], {"approximate": approximate}


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    from ...tensor import Tensor

    if max_norm is not None or not isinstance(input, Tensor):  # max_norm rewrites the weight as it goes
        return None
    return [input, weight], {"padding_idx": padding_idx}
