"""The ``Distribution`` base class (PyTorch's interface) and the helpers the distributions share."""
from __future__ import annotations

import math

import numpy as np

from ..errors import mark, with_user_line
from ..ops import apply
from ..tensor import Size, Tensor
from . import constraints

_VALIDATE = [True]  # PyTorch validates arguments by default (since 1.8)


def _err(kind, msg, depth=3):
    return mark(with_user_line(kind(msg), depth))


def check_values(ok, value, message):
    """Raise ValueError(``message``) where ``ok`` (a bool tensor) is false anywhere; ``message`` may name
    ``{value}``, the first offending element of ``value``. The check is the ``assert_all`` primitive, not a
    Python read, so a compiled function checks every call as eager code does and its trace stays whole."""
    shown = [value.detach()]
    try:
        fits = np.broadcast_shapes(tuple(value.shape), tuple(ok.shape)) == tuple(ok.shape)
    except ValueError:
        fits = False
    if not fits:  # an event-wide check (one flag per event): no single element to show
        shown, message = [], message.replace("{value}", "(a value outside it)")
    apply("assert_all", ok, *shown, error="ValueError", message=message)


def as_float_tensor(x, like=None):
    """``x`` as a floating-point tensor (Python numbers become 0-d tensors of the default float dtype)."""
    from ..creation import tensor

    if isinstance(x, Tensor):
        return x if x._data.dtype.kind == "f" else x.float()
    dtype = like.dtype if isinstance(like, Tensor) and like._data.dtype.kind == "f" else None
    return tensor(float(x), dtype=dtype)


def broadcast_all(*values):
    """The values as float tensors broadcast to one shape (numbers take the dtype of the tensors)."""
    from ..functional.shape import broadcast_tensors

    like = next((v for v in values if isinstance(v, Tensor)), None)
    ts = [as_float_tensor(v, like) for v in values]
    return tuple(broadcast_tensors(*ts)) if len(ts) > 1 else (ts[0],)


def probs_to_logits(probs, is_binary=False):
    eps = float(_finfo(probs).eps)
    p = probs.clamp(eps, 1 - eps)
    return (p.log() - (-p).log1p()) if is_binary else p.log()


def logits_to_probs(logits, is_binary=False):
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def _finfo(t):
    import numpy as np

    return np.finfo(t._data.dtype)


class Distribution:
    """A batch of probability distributions with PyTorch's interface: ``sample``, ``rsample``, ``log_prob``,
    ``entropy``, ``mean``, ``variance``, ``batch_shape``, ``event_shape``.

    >>> import ember
    >>> from ember.distributions import Normal
    >>> Normal(0.0, 1.0).log_prob(ember.tensor(0.0))
    tensor(-0.9189)
    """

    has_rsample = False
    has_enumerate_support = False
    arg_constraints: dict = {}
    support = None

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        _VALIDATE[0] = bool(value)

    def __init__(self, batch_shape=Size(), event_shape=Size(), validate_args=None):
        self._batch_shape, self._event_shape = Size(batch_shape), Size(event_shape)
        self._validate_args = _VALIDATE[0] if validate_args is None else validate_args
        if self._validate_args:
            self._check_parameters()

    def _check_parameters(self):
        for name, constraint in self.arg_constraints.items():
            if constraint is constraints.dependent or name not in self.__dict__ and not hasattr(type(self), name):
                continue
            value = getattr(self, name)
            if not isinstance(value, Tensor):
                continue
            check_values(constraint.check(value.detach()), value,
                         f"{type(self).__name__}: expected parameter {name} (shape {tuple(value.shape)}) to "
                         f"satisfy the constraint {constraint!r}, but found the invalid value {{value}}. Pass "
                         "values inside it (a positive scale, e.g., can come from x.exp() or F.softplus(x)), or "
                         "validate_args=False to skip the check")

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def expand(self, batch_shape, _instance=None):
        """This distribution with its batch shape broadcast to ``batch_shape``: the parameters (the tensors whose
        leading dims are the batch shape) are expanded views, not copies."""
        batch_shape = Size(batch_shape)
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        nb, old = len(self._batch_shape), tuple(self._batch_shape)
        for name, v in self.__dict__.items():
            if isinstance(v, Distribution) and tuple(v.batch_shape) == old:  # a component (StudentT's Chi2)
                new.__dict__[name] = v.expand(batch_shape)
            elif isinstance(v, Tensor) and not name.startswith("_unbroadcasted") and tuple(v.shape[:nb]) == old \
                    and v.ndim >= nb:
                try:
                    new.__dict__[name] = v.expand(*batch_shape, *v.shape[nb:])
                except (ValueError, RuntimeError):
                    raise _err(ValueError, f"{type(self).__name__}.expand: batch shape {old} cannot be expanded "
                                           f"to {tuple(batch_shape)}") from None
        new._batch_shape = batch_shape
        return new

    def _extended_shape(self, sample_shape=Size()):
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def sample(self, sample_shape=Size()):
        """A sample without gradient (``rsample`` detached, where it exists)."""
        from ..autograd import no_grad

        with no_grad():
            return self.rsample(sample_shape).detach()

    def rsample(self, sample_shape=Size()):
        raise _err(NotImplementedError, f"{type(self).__name__} has no reparameterized sampler (rsample); use "
                                        "sample() (no gradient) or a score-function estimator with log_prob")

    def sample_n(self, n):
        return self.sample((n,))

    def log_prob(self, value):
        raise NotImplementedError

    def entropy(self):
        raise NotImplementedError

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__}.cdf is not implemented")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__}.icdf is not implemented")

    def perplexity(self):
        return self.entropy().exp()

    @property
    def mean(self):
        raise NotImplementedError

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__}.mode is not implemented")

    @property
    def variance(self):
        raise NotImplementedError

    @property
    def stddev(self):
        return self.variance.sqrt()

    def _validate_sample(self, value):
        if not isinstance(value, Tensor):
            raise _err(ValueError, f"{type(self).__name__}.log_prob: the value must be a tensor, got "
                                   f"{type(value).__name__}", 4)
        event = len(self._event_shape)
        if event and tuple(value.shape[value.ndim - event:]) != tuple(self._event_shape):
            raise _err(ValueError, f"{type(self).__name__}.log_prob: the value's rightmost dims "
                                   f"{tuple(value.shape)} must match the event shape {tuple(self._event_shape)}", 4)
        import numpy as np

        try:
            np.broadcast_shapes(tuple(value.shape), tuple(self._batch_shape) + tuple(self._event_shape))
        except ValueError:
            raise _err(ValueError, f"{type(self).__name__}.log_prob: a value of shape {tuple(value.shape)} does "
                                   f"not broadcast with batch shape {tuple(self._batch_shape)} and event shape "
                                   f"{tuple(self._event_shape)}", 4) from None
        support = self.support
        if support is not None and support is not constraints.dependent:
            check_values(support.check(value.detach()), value,
                         f"{type(self).__name__}.log_prob: expected a value within the support {support!r}, but "
                         "found the invalid value {value}. Pass validate_args=False to skip this check.")

    def __repr__(self):
        params = ", ".join(f"{k}: {tuple(getattr(self, k).shape) if isinstance(getattr(self, k), Tensor) else '?'}"
                           for k in self.arg_constraints if k in self.__dict__)
        return f"{type(self).__name__}({params})"


LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
