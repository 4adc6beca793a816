"""Transforms built from other transforms (compose, independent, cat, stack), reshapes, and a distribution's CDF
as a transform.

>>> import ember
>>> from ember.distributions.transforms import ExpTransform, AffineTransform
>>> t = ComposeTransform([AffineTransform(0.0, 2.0), ExpTransform()])
>>> t(ember.tensor(0.5))
tensor(2.7183)
"""
from __future__ import annotations

import math

from . import constraints
from .distribution import _err
from .transforms import Transform, _sum_rightmost


class ComposeTransform(Transform):
    """``parts`` applied left to right; the Jacobian terms are summed, each over the event dims it lacks.

    >>> import ember
    >>> from ember.distributions.transforms import ExpTransform
    >>> ComposeTransform([ExpTransform(), ExpTransform()]).inv(ember.tensor(1.0))
    tensor(-inf)
    """

    def __init__(self, parts, cache_size=0):
        self.parts = [p.with_cache(cache_size) for p in parts] if cache_size else list(parts)
        super().__init__(cache_size=cache_size)

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else ComposeTransform(self.parts, cache_size)

    def __eq__(self, other):
        return isinstance(other, ComposeTransform) and self.parts == other.parts

    __hash__ = object.__hash__

    @property
    def domain(self):
        if not self.parts:
            return constraints.real
        domain, event_dim = self.parts[0].domain, self.parts[-1].codomain.event_dim
        for part in reversed(self.parts):  # the event dims the first part must treat as one event
            event_dim = max(event_dim + part.domain.event_dim - part.codomain.event_dim, part.domain.event_dim)
        if event_dim > domain.event_dim:
            domain = constraints.independent(domain, event_dim - domain.event_dim)
        return domain

    @property
    def codomain(self):
        if not self.parts:
            return constraints.real
        codomain, event_dim = self.parts[-1].codomain, self.parts[0].domain.event_dim
        for part in self.parts:
            event_dim = max(event_dim + part.codomain.event_dim - part.domain.event_dim, part.codomain.event_dim)
        if event_dim > codomain.event_dim:
            codomain = constraints.independent(codomain, event_dim - codomain.event_dim)
        return codomain

    bijective = property(lambda self: all(p.bijective for p in self.parts))

    @property
    def sign(self):
        s = 1
        for p in self.parts:
            s = s * p.sign
        return s

    @property
    def inv(self):
        if self._inv is None:
            self._inv = ComposeTransform([p.inv for p in reversed(self.parts)])
            self._inv._inv = self
        return self._inv

    def _call(self, x):
        for part in self.parts:
            x = part(x)
        return x

    def _inverse(self, y):
        return self.inv(y)

    def log_abs_det_jacobian(self, x, y):
        if not self.parts:
            return x * 0
        xs = [x]
        for part in self.parts[:-1]:
            xs.append(part(xs[-1]))
        xs.append(y)
        total, event_dim = None, self.domain.event_dim
        for part, a, b in zip(self.parts, xs[:-1], xs[1:]):
            term = _sum_rightmost(part.log_abs_det_jacobian(a, b), event_dim - part.domain.event_dim)
            total = term if total is None else total + term
            event_dim += part.codomain.event_dim - part.domain.event_dim
        return total

    def forward_shape(self, shape):
        for part in self.parts:
            shape = part.forward_shape(shape)
        return shape

    def inverse_shape(self, shape):
        for part in reversed(self.parts):
            shape = part.inverse_shape(shape)
        return shape

    def __repr__(self):
        inner = ",\n    ".join(repr(p) for p in self.parts)
        return f"ComposeTransform(\n    {inner}\n)"


identity_transform = ComposeTransform([])


class IndependentTransform(Transform):
    """``base_transform`` with its rightmost ``reinterpreted_batch_ndims`` dims made part of the event (the
    Jacobian terms are summed over them)."""

    def __init__(self, base_transform, reinterpreted_batch_ndims, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.base_transform = base_transform.with_cache(cache_size) if cache_size else base_transform
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else \
            IndependentTransform(self.base_transform, self.reinterpreted_batch_ndims, cache_size)

    domain = property(lambda self: constraints.independent(self.base_transform.domain,
                                                           self.reinterpreted_batch_ndims))
    codomain = property(lambda self: constraints.independent(self.base_transform.codomain,
                                                             self.reinterpreted_batch_ndims))
    bijective = property(lambda self: self.base_transform.bijective)
    sign = property(lambda self: self.base_transform.sign)

    def _call(self, x):
        return self.base_transform(x)

    def _inverse(self, y):
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        return _sum_rightmost(self.base_transform.log_abs_det_jacobian(x, y), self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)

    def __repr__(self):
        return f"IndependentTransform({self.base_transform!r}, {self.reinterpreted_batch_ndims})"


class ReshapeTransform(Transform):
    """Reshape the rightmost dims from ``in_shape`` to ``out_shape`` (same number of elements; volume-preserving)."""

    bijective = True

    def __init__(self, in_shape, out_shape, cache_size=0):
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        if math.prod(self.in_shape) != math.prod(self.out_shape):
            raise _err(ValueError, f"ReshapeTransform: in_shape {self.in_shape} and out_shape {self.out_shape} "
                                   "have different numbers of elements")
        super().__init__(cache_size=cache_size)

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else ReshapeTransform(self.in_shape, self.out_shape, cache_size)

    domain = property(lambda self: constraints.independent(constraints.real, len(self.in_shape)))
    codomain = property(lambda self: constraints.independent(constraints.real, len(self.out_shape)))

    def _call(self, x):
        return x.reshape(*x.shape[:x.ndim - len(self.in_shape)], *self.out_shape)

    def _inverse(self, y):
        return y.reshape(*y.shape[:y.ndim - len(self.out_shape)], *self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        from ..creation import zeros

        return zeros(*x.shape[:x.ndim - len(self.in_shape)], dtype=x.dtype, device=x.device)

    def _check(self, shape, fixed, name):
        if len(shape) < len(fixed) or tuple(shape[len(shape) - len(fixed):]) != fixed:
            raise _err(ValueError, f"ReshapeTransform: {name} shape {tuple(shape)} does not end with {fixed}")
        return tuple(shape[:len(shape) - len(fixed)])

    def forward_shape(self, shape):
        return self._check(shape, self.in_shape, "input") + self.out_shape

    def inverse_shape(self, shape):
        return self._check(shape, self.out_shape, "output") + self.in_shape


class CatTransform(Transform):
    """``tseq[i]`` applied to the ``i``-th slice (of ``lengths[i]``) along ``dim``; results concatenated."""

    def __init__(self, tseq, dim=0, lengths=None, cache_size=0):
        self.transforms = [t.with_cache(cache_size) for t in tseq] if cache_size else list(tseq)
        self.lengths = list(lengths) if lengths is not None else [1] * len(self.transforms)
        if len(self.lengths) != len(self.transforms):
            raise _err(ValueError, f"CatTransform: {len(self.transforms)} transforms but {len(self.lengths)} "
                                   "lengths")
        self.dim = dim
        super().__init__(cache_size=cache_size)

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else \
            CatTransform(self.transforms, self.dim, self.lengths, cache_size)

    event_dim = property(lambda self: max(t.event_dim for t in self.transforms))
    bijective = property(lambda self: all(t.bijective for t in self.transforms))
    domain = property(lambda self: constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths))
    codomain = property(lambda self: constraints.cat([t.codomain for t in self.transforms], self.dim,
                                                     self.lengths))

    def _pieces(self, fn, *tensors):
        if tensors[0].shape[self.dim] != sum(self.lengths):
            raise _err(ValueError, f"CatTransform: dim {self.dim} has size {tensors[0].shape[self.dim]}, the "
                                   f"lengths sum to {sum(self.lengths)}")
        start, out = 0, []
        for t, n in zip(self.transforms, self.lengths):
            out.append(fn(t, *(v.narrow(self.dim, start, n) for v in tensors)))
            start += n
        return out

    def _call(self, x):
        from ..functional.shape import cat

        return cat(self._pieces(lambda t, a: t(a), x), self.dim)

    def _inverse(self, y):
        from ..functional.shape import cat

        return cat(self._pieces(lambda t, b: t.inv(b), y), self.dim)

    def log_abs_det_jacobian(self, x, y):
        from ..functional.shape import cat

        ev = self.event_dim
        terms = self._pieces(lambda t, a, b: _sum_rightmost(t.log_abs_det_jacobian(a, b), ev - t.event_dim), x, y)
        dim = (self.dim - x.ndim if self.dim >= 0 else self.dim) + ev
        if dim < 0:  # the cat dim is a batch dim of the Jacobian term: concatenate there
            return cat(terms, dim)
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total


class StackTransform(Transform):
    """``tseq[i]`` applied to index ``i`` along ``dim``; results stacked."""

    def __init__(self, tseq, dim=0, cache_size=0):
        self.transforms = [t.with_cache(cache_size) for t in tseq] if cache_size else list(tseq)
        self.dim = dim
        super().__init__(cache_size=cache_size)

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else StackTransform(self.transforms, self.dim, cache_size)

    bijective = property(lambda self: all(t.bijective for t in self.transforms))
    domain = property(lambda self: constraints.stack([t.domain for t in self.transforms], self.dim))
    codomain = property(lambda self: constraints.stack([t.codomain for t in self.transforms], self.dim))

    def _pieces(self, fn, *tensors):
        if tensors[0].shape[self.dim] != len(self.transforms):
            raise _err(ValueError, f"StackTransform: dim {self.dim} has size {tensors[0].shape[self.dim]}, not "
                                   f"the {len(self.transforms)} transforms")
        from ..functional.shape import stack

        return stack([fn(t, *(v.select(self.dim, i) for v in tensors)) for i, t in enumerate(self.transforms)],
                     self.dim)

    def _call(self, x):
        return self._pieces(lambda t, a: t(a), x)

    def _inverse(self, y):
        return self._pieces(lambda t, b: t.inv(b), y)

    def log_abs_det_jacobian(self, x, y):
        return self._pieces(lambda t, a, b: t.log_abs_det_jacobian(a, b), x, y)


class CumulativeDistributionTransform(Transform):
    """``y = distribution.cdf(x)``: values to (0, 1); the Jacobian term is ``distribution.log_prob(x)``."""

    bijective, codomain, sign = True, constraints.unit_interval, 1

    def __init__(self, distribution, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else CumulativeDistributionTransform(self.distribution,
                                                                                           cache_size)

    domain = property(lambda self: self.distribution.support)

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)
