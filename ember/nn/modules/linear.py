"""Identity, Linear, Bilinear, Flatten, Unflatten."""
from __future__ import annotations

import math

from ... import creation
from .. import init
from ..functional.linear import bilinear as _bilinear
from ..functional.linear import linear as _linear
from ..parameter import UninitializedParameter
from .lazy import LazyModuleMixin
from .module import Module, Parameter

__all__ = ["Identity", "Linear", "LazyLinear", "Bilinear", "Flatten", "Unflatten"]


class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored).

    >>> import ember
    >>> from ember import nn
    >>> x = ember.ones(2)
    >>> nn.Identity()(x) is x
    True
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


def _factory(device, dtype):
    return {"device": device, "dtype": dtype}


class Linear(Module):
    """y = x @ weight.T + bias, with weight (out_features, in_features) initialised like PyTorch's
    (kaiming_uniform_ with a=sqrt(5); bias uniform in +-1/sqrt(in_features)).

    >>> import ember
    >>> from ember import nn
    >>> layer = nn.Linear(20, 30)
    >>> layer(ember.randn(128, 20)).shape
    ember.Size([128, 30])
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(creation.empty(out_features, in_features, **_factory(device, dtype)))
        if bias:
            self.bias = Parameter(creation.empty(out_features, **_factory(device, dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return _linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class LazyLinear(LazyModuleMixin, Linear):
    """A Linear whose in_features is taken from the first input (then it becomes a Linear).

    >>> import ember
    >>> from ember import nn
    >>> layer = nn.LazyLinear(3)
    >>> layer(ember.randn(2, 5)).shape
    ember.Size([2, 3])
    >>> layer.weight.shape
    ember.Size([3, 5])
    """

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False, device, dtype)
        self.out_features = out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if self._lazy_reset_ready(self.in_features):
            super().reset_parameters()

    def initialize_parameters(self, input):
        if self.has_uninitialized_params():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if getattr(self.bias, "_uninitialized", False):
                self.bias.materialize((self.out_features,))
            self.reset_parameters()


class Bilinear(Module):
    """y = x1^T A x2 + b with weight (out_features, in1_features, in2_features).

    >>> import ember
    >>> from ember import nn
    >>> m = nn.Bilinear(20, 30, 40)
    >>> m(ember.randn(128, 20), ember.randn(128, 30)).shape
    ember.Size([128, 40])
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        self.weight = Parameter(creation.empty(out_features, in1_features, in2_features, **_factory(device,
                                                                                                    dtype)))
        if bias:
            self.bias = Parameter(creation.empty(out_features, **_factory(device, dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.size(1))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return _bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Flattens dims ``start_dim``..``end_dim`` (by default all but the batch dim).

    >>> import ember
    >>> from ember import nn
    >>> nn.Flatten()(ember.zeros(32, 1, 5, 5)).shape
    ember.Size([32, 25])
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim ``dim`` into ``unflattened_size``.

    >>> import ember
    >>> from ember import nn
    >>> nn.Unflatten(1, (2, 5, 5))(ember.zeros(2, 50)).shape
    ember.Size([2, 2, 5, 5])
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class NonDynamicallyQuantizableLinear(Linear):
    """PyTorch's name for the Linear inside MultiheadAttention (listed in ``safe_globals`` by programs that load
    whole models); here it is a plain Linear."""
