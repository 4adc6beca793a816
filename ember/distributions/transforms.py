"""``torch.distributions.transforms``: invertible maps ``y = t(x)`` with ``log |dy/dx|``, the building blocks of
``TransformedDistribution`` (a log-normal is a normal pushed through ``ExpTransform``).

>>> import ember
>>> t = AffineTransform(1.0, 2.0)
>>> t(ember.tensor([0.0, 1.0])), t.inv(ember.tensor(3.0))
(tensor([1., 3.]), tensor(1.))
"""
from __future__ import annotations

import math

from . import constraints
from .distribution import _err, _finfo

__all__ = ["Transform", "ExpTransform", "PowerTransform", "SigmoidTransform", "SoftplusTransform", "TanhTransform",
           "AbsTransform", "AffineTransform", "SoftmaxTransform", "StickBreakingTransform", "LowerCholeskyTransform",
           "ComposeTransform", "IndependentTransform", "ReshapeTransform", "CatTransform", "StackTransform",
           "CumulativeDistributionTransform", "identity_transform"]


def _sum_rightmost(x, n):
    return x.reshape(*x.shape[:x.ndim - n], -1).sum(-1) if n > 0 else x


class Transform:
    """A map with an inverse (``inv``) and ``log_abs_det_jacobian(x, y)``; ``domain``/``codomain`` are
    constraints. ``cache_size=1`` remembers the last pair, so ``t.inv(t(x))`` returns ``x`` itself.

    >>> import ember
    >>> ExpTransform().log_abs_det_jacobian(ember.tensor(2.0), ember.tensor(2.0).exp())
    tensor(2.)
    """

    bijective = False
    domain = codomain = constraints.real
    sign = 1

    def __init__(self, cache_size=0):
        if cache_size not in (0, 1):
            raise _err(ValueError, f"{type(self).__name__}: cache_size must be 0 or 1, got {cache_size}")
        self._cache_size, self._cached = cache_size, (None, None)
        self._inv = None

    @property
    def event_dim(self):
        if self.domain.event_dim != self.codomain.event_dim:
            raise _err(ValueError, "Please use either .domain.event_dim or .codomain.event_dim")
        return self.domain.event_dim

    @property
    def inv(self):
        if self._inv is None:
            self._inv = _InverseTransform(self)
        return self._inv

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        if type(self).__init__ is Transform.__init__:
            return type(self)(cache_size=cache_size)
        raise _err(NotImplementedError, f"{type(self).__name__}.with_cache is not implemented")

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = object.__hash__

    def __call__(self, x):
        if self._cache_size == 0:
            return self._call(x)
        x_old, y_old = self._cached
        if x is x_old:
            return y_old
        y = self._call(x)
        self._cached = (x, y)
        return y

    def _inv_call(self, y):
        if self._cache_size == 0:
            return self._inverse(y)
        x_old, y_old = self._cached
        if y is y_old:
            return x_old
        x = self._inverse(y)
        self._cached = (x, y)
        return x

    def _call(self, x):
        raise _err(NotImplementedError, f"{type(self).__name__} has no forward map")

    def _inverse(self, y):
        raise _err(NotImplementedError, f"{type(self).__name__} has no inverse")

    def log_abs_det_jacobian(self, x, y):
        raise _err(NotImplementedError, f"{type(self).__name__}.log_abs_det_jacobian is not implemented (the map "
                                        "is not a bijection of its event space)")

    def forward_shape(self, shape):
        return shape

    def inverse_shape(self, shape):
        return shape

    def __repr__(self):
        return type(self).__name__ + "()"


class _InverseTransform(Transform):
    """``t.inv``: the inverse map, sharing ``t``'s cache."""

    def __init__(self, transform):
        super().__init__(cache_size=transform._cache_size)
        self._inv = transform

    domain = property(lambda self: self._inv.codomain)
    codomain = property(lambda self: self._inv.domain)
    bijective = property(lambda self: self._inv.bijective)
    sign = property(lambda self: self._inv.sign)

    @property
    def inv(self):
        return self._inv

    def with_cache(self, cache_size=1):
        return self._inv.with_cache(cache_size).inv

    def __eq__(self, other):
        return isinstance(other, _InverseTransform) and self._inv == other._inv

    __hash__ = object.__hash__

    def __call__(self, x):
        return self._inv._inv_call(x)

    def log_abs_det_jacobian(self, x, y):
        return -self._inv.log_abs_det_jacobian(y, x)

    def forward_shape(self, shape):
        return self._inv.inverse_shape(shape)

    def inverse_shape(self, shape):
        return self._inv.forward_shape(shape)

    def __repr__(self):
        return f"_InverseTransform({self._inv!r})"


class _Stateless(Transform):
    """Transforms without parameters: any two instances are equal."""

    def __eq__(self, other):
        return type(other) is type(self)

    __hash__ = object.__hash__


class ExpTransform(_Stateless):
    """``y = exp(x)``."""

    domain, codomain, bijective = constraints.real, constraints.positive, True

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x


class PowerTransform(Transform):
    """``y = x ** exponent`` on the positive reals."""

    domain, codomain, bijective = constraints.positive, constraints.positive, True

    def __init__(self, exponent, cache_size=0):
        from .distribution import as_float_tensor

        super().__init__(cache_size=cache_size)
        self.exponent = as_float_tensor(exponent)

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else PowerTransform(self.exponent, cache_size)

    @property
    def sign(self):
        return self.exponent.sign()

    def __eq__(self, other):
        return isinstance(other, PowerTransform) and bool((self.exponent == other.exponent).all())

    __hash__ = object.__hash__

    def _call(self, x):
        return x.pow(self.exponent)

    def _inverse(self, y):
        return y.pow(1 / self.exponent)

    def log_abs_det_jacobian(self, x, y):
        return (self.exponent * y / x).abs().log()

    def forward_shape(self, shape):
        import numpy as np

        return tuple(np.broadcast_shapes(tuple(shape), tuple(self.exponent.shape)))

    inverse_shape = forward_shape


def _clipped_sigmoid(x):
    fi = _finfo(x)
    return x.sigmoid().clamp(float(fi.tiny), 1.0 - float(fi.eps))


class SigmoidTransform(_Stateless):
    """``y = 1 / (1 + exp(-x))``, kept inside (0, 1) so its inverse stays finite."""

    domain, codomain, bijective = constraints.real, constraints.unit_interval, True

    def _call(self, x):
        return _clipped_sigmoid(x)

    def _inverse(self, y):
        fi = _finfo(y)
        y = y.clamp(float(fi.tiny), 1.0 - float(fi.eps))
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x, y):
        from ..nn.functional import softplus

        return -softplus(-x) - softplus(x)


class SoftplusTransform(_Stateless):
    """``y = log(1 + exp(x))``."""

    domain, codomain, bijective = constraints.real, constraints.positive, True

    def _call(self, x):
        from ..nn.functional import softplus

        return softplus(x)

    def _inverse(self, y):
        return (-(-y).expm1()).log() + y  # log(exp(y) - 1) without overflow

    def log_abs_det_jacobian(self, x, y):
        from ..nn.functional import softplus

        return -softplus(-x)


class TanhTransform(_Stateless):
    """``y = tanh(x)``; the Jacobian term is written with softplus so it stays finite for large ``|x|``."""

    domain, codomain, bijective = constraints.real, constraints.open_interval(-1.0, 1.0), True

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        return y.atanh()

    def log_abs_det_jacobian(self, x, y):
        from ..nn.functional import softplus

        return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


class AbsTransform(_Stateless):
    """``y = |x|`` (not invertible: the inverse picks ``x = y``)."""

    domain, codomain = constraints.real, constraints.positive

    def _call(self, x):
        return x.abs()

    def _inverse(self, y):
        return y


class AffineTransform(Transform):
    """``y = loc + scale * x``; ``event_dim`` dims on the right form one event (their log-scales are summed)."""

    bijective = True

    def __init__(self, loc, scale, event_dim=0, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.loc, self.scale, self._event_dim = loc, scale, event_dim

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else \
            AffineTransform(self.loc, self.scale, self._event_dim, cache_size)

    @property
    def event_dim(self):
        return self._event_dim

    @property
    def domain(self):
        return constraints.real if self._event_dim == 0 else constraints.independent(constraints.real,
                                                                                      self._event_dim)

    codomain = domain

    @property
    def sign(self):
        return self.scale.sign() if hasattr(self.scale, "sign") else (1 if self.scale > 0 else -1)

    def __eq__(self, other):
        if not isinstance(other, AffineTransform):
            return False
        same = [bool((a == b).all()) if hasattr(a == b, "all") else a == b
                for a, b in ((self.loc, other.loc), (self.scale, other.scale))]
        return all(same)

    __hash__ = object.__hash__

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        from ..creation import full_like
        from ..tensor import Tensor

        if isinstance(self.scale, Tensor):
            result = self.scale.abs().log()
        else:
            result = full_like(x, math.log(abs(self.scale)))
        if self._event_dim:
            result = _sum_rightmost(result, self._event_dim)
        shape = tuple(x.shape[:x.ndim - self._event_dim])
        return result.expand(*shape) if tuple(result.shape) != shape else result

    def forward_shape(self, shape):
        import numpy as np

        extra = [tuple(p.shape) for p in (self.loc, self.scale) if hasattr(p, "shape")]
        return tuple(np.broadcast_shapes(tuple(shape), *extra))

    inverse_shape = forward_shape


class SoftmaxTransform(_Stateless):
    """``y = softmax(x)`` over the last dim (not invertible: the inverse is ``log y``, one representative)."""

    domain, codomain = constraints.real_vector, constraints.simplex

    def _call(self, x):
        e = (x - x.amax(-1, keepdim=True)).exp()
        return e / e.sum(-1, keepdim=True)

    def _inverse(self, y):
        return y.log()


class StickBreakingTransform(_Stateless):
    """Unconstrained ``K-1`` vectors to the ``K``-simplex by breaking a stick: a bijection, unlike softmax."""

    domain, codomain, bijective = constraints.real_vector, constraints.simplex, True

    @staticmethod
    def _offset(x, extra):
        from ..creation import ones

        return x.shape[-1] + extra - ones(x.shape[-1], dtype=x.dtype, device=x.device).cumsum(-1)

    def _call(self, x):
        from ..nn.functional import pad

        z = _clipped_sigmoid(x - self._offset(x, 1).log())
        z_cumprod = (1 - z).cumprod(-1)
        return pad(z, [0, 1], value=1) * pad(z_cumprod, [1, 0], value=1)

    def _inverse(self, y):
        y_crop = y[..., :-1]
        offset = self._offset(y_crop, 1)
        sf = (1 - y_crop.cumsum(-1)).clamp(min=float(_finfo(y).tiny))
        return y_crop.log() - sf.log() + offset.log()

    def log_abs_det_jacobian(self, x, y):
        from ..nn.functional import logsigmoid

        x = x - self._offset(x, 1).log()
        return (-x + logsigmoid(x) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        return tuple(shape[:-1]) + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        return tuple(shape[:-1]) + (shape[-1] - 1,)


class LowerCholeskyTransform(_Stateless):
    """Square matrices to lower-triangular ones with a positive diagonal (strict lower part kept, diagonal
    exponentiated)."""

    domain, codomain = constraints.independent(constraints.real, 2), constraints.lower_cholesky

    def _call(self, x):
        return x.tril(-1) + x.diagonal(0, -2, -1).exp().diag_embed()

    def _inverse(self, y):
        return y.tril(-1) + y.diagonal(0, -2, -1).log().diag_embed()


from .transforms_more import (  # noqa: E402  (the composite transforms build on the classes above)
    CatTransform,
    ComposeTransform,
    CumulativeDistributionTransform,
    IndependentTransform,
    ReshapeTransform,
    StackTransform,
    identity_transform,
)
