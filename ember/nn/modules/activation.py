"""Activation layers: thin Modules over ``ember.nn.functional``'s activations (PyTorch's names, arguments and
repr)."""
from __future__ import annotations

from ... import creation
from .. import functional as F
from .. import init
from .module import Module, Parameter

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax",
           "LogSoftmax", "Softmin", "Softplus", "Hardtanh", "Mish", "PReLU", "Softsign", "Hardswish",
           "Hardsigmoid",            "LogSigmoid", "GLU", "Threshold", "Tanhshrink", "Hardshrink", "Softshrink",
           "RReLU", "Softmax2d"]


def _example(name, args=""):
    return (f"\n\n    >>> import ember\n    >>> from ember import nn\n    >>> "
            f"nn.{name}({args})(ember.randn(2, 4))"
            ".shape\n    ember.Size([2, 4])\n")


def _simple(name, fn, doc, params=(), defaults=(), inplace=False):
    """A parameter-free activation class calling ``fn(input, *params)``. ``inplace="keyword"``: passed as
    ``inplace=`` (as torch's ReLU, SiLU and Mish do: torch.fx graphs of them show it so)."""
    names = tuple(params) + (("inplace",) if inplace else ())
    defs = tuple(defaults) + ((False,) if inplace else ())

    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        if len(args) > len(names):
            raise TypeError(f"{name} takes at most {len(names)} arguments ({', '.join(names)})")
        values = dict(zip(names, defs))
        values.update(zip(names, args))
        for k, v in kwargs.items():
            if k not in values:
                raise TypeError(f"{name} got an unexpected keyword argument {k!r}; it takes "
                                f"{', '.join(names)}")
            values[k] = v
        for k, v in values.items():
            setattr(self, k, v)

    fn_name = fn.__name__ if getattr(F, fn.__name__, None) is fn else None

    def forward(self, input):
        # F's function is looked up per call so ember.fx's tracer, which swaps F's public functions, records it
        f = getattr(F, fn_name) if fn_name else fn
        if inplace == "keyword":
            return f(input, *[getattr(self, k) for k in params], inplace=self.inplace)
        return f(input, *[getattr(self, k) for k in names])

    def extra_repr(self):
        parts = [f"{k}={getattr(self, k)!r}" if isinstance(getattr(self, k),
                                                           str) else f"{k}={getattr(self, k)}"
                 for k in params]
        if inplace and self.inplace:
            parts.append("inplace=True")
        return ", ".join(parts)

    return type(name, (Module,), {"__init__": __init__, "forward": forward, "extra_repr": extra_repr,
                                  "__doc__": doc + _example(name), "__module__": __name__})


ReLU = _simple("ReLU", F.relu, "max(0, x) elementwise.", inplace="keyword")
ReLU6 = _simple("ReLU6", F.relu6, "min(max(0, x), 6) elementwise.", inplace=True)
LeakyReLU = _simple("LeakyReLU", F.leaky_relu, "x if x > 0 else negative_slope * x.", ("negative_slope",),
                    (0.01,), inplace=True)
ELU = _simple("ELU", F.elu, "x if x > 0 else alpha * (exp(x) - 1).", ("alpha",), (1.0,), inplace=True)
SELU = _simple("SELU", F.selu, "scale * elu(x, alpha) with the self-normalising constants.", inplace=True)
CELU = _simple("CELU", F.celu, "max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).", ("alpha",), (1.0,),
               inplace=True)
GELU = _simple("GELU", F.gelu, "x * Phi(x); approximate='tanh' uses the tanh approximation.",
               ("approximate",),
               ("none",))
SiLU = _simple("SiLU", F.silu, "x * sigmoid(x) (swish).", inplace="keyword")
Sigmoid = _simple("Sigmoid", F.sigmoid, "1 / (1 + exp(-x)).")
Tanh = _simple("Tanh", F.tanh, "Hyperbolic tangent.")
Softmax = _simple("Softmax", F.softmax, "exp(x) / sum(exp(x)) along ``dim``.", ("dim",), (None,))
LogSoftmax = _simple("LogSoftmax", F.log_softmax, "log(softmax(x)) along ``dim``, computed stably.", ("dim",),
                     (None,))
Softmin = _simple("Softmin", F.softmin, "softmax(-x) along ``dim``.", ("dim",), (None,))
Softplus = _simple("Softplus", F.softplus, "log(1 + exp(beta x)) / beta, linear above ``threshold``.",
                   ("beta", "threshold"), (1.0, 20.0))
Hardtanh = _simple("Hardtanh", F.hardtanh, "x clamped into [min_val, max_val].", ("min_val", "max_val"),
                   (-1.0, 1.0), inplace=True)
Mish = _simple("Mish", F.mish, "x * tanh(softplus(x)).", inplace="keyword")
Softsign = _simple("Softsign", F.softsign, "x / (1 + |x|).")
Hardswish = _simple("Hardswish", F.hardswish, "x * relu6(x + 3) / 6.", inplace=True)
Hardsigmoid = _simple("Hardsigmoid", F.hardsigmoid, "relu6(x + 3) / 6.", inplace=True)
LogSigmoid = _simple("LogSigmoid", F.logsigmoid, "log(sigmoid(x)), computed stably.")
Tanhshrink = _simple("Tanhshrink", F.tanhshrink, "x - tanh(x).")
Hardshrink = _simple("Hardshrink", F.hardshrink, "x where |x| > lambd, else 0.", ("lambd",), (0.5,))
Softshrink = _simple("Softshrink", F.softshrink, "x - lambd above lambd, x + lambd below -lambd, else 0.",
                     ("lambd",), (0.5,))
Hardshrink.extra_repr = Softshrink.extra_repr = lambda self: f"{self.lambd}"  # PyTorch prints the bare value


class RReLU(Module):
    """Leaky ReLU with a random negative slope in [lower, upper] while training, their mean in evaluation.

    >>> import ember
    >>> from ember import nn
    >>> nn.RReLU().eval()(ember.tensor([-3.0, 2.0]))
    tensor([-0.6875,  2.0000])
    """

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.Softmax2d()(ember.zeros(1, 2, 1, 1)).flatten().tolist()
    [0.5, 0.5]
    """

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-D or 4-D input, got shape {tuple(input.shape)}")
        return F.softmax(input, -3)


class GLU(Module):
    """Gated linear unit: a * sigmoid(b) where (a, b) are the halves of the input along ``dim``.

    >>> import ember
    >>> from ember import nn
    >>> nn.GLU()(ember.randn(2, 4)).shape
    ember.Size([2, 2])
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Threshold(Module):
    """x if x > threshold else value.

    >>> import ember
    >>> from ember import nn
    >>> nn.Threshold(0.1, 20.0)(ember.tensor([0.0, 1.0]))
    tensor([20.,  1.])
    """

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """max(0, x) + weight * min(0, x) with a learnable slope (one shared, or one per channel).

    >>> import ember
    >>> from ember import nn
    >>> m = nn.PReLU(num_parameters=3)
    >>> m(ember.randn(2, 3, 4)).shape
    ember.Size([2, 3, 4])
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(creation.full((num_parameters,), float(init), device=device, dtype=dtype))

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


from .attention import MultiheadAttention  # noqa: E402,F401  (PyTorch defines it in nn.modules.activation)
