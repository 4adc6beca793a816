"""``Independent``: reinterpret some batch dims of a distribution as event dims (log_prob sums over them)."""
from __future__ import annotations

from ..tensor import Size
from . import constraints
from .distribution import Distribution, _err


class Independent(Distribution):
    """``base_distribution`` with its rightmost ``reinterpreted_batch_ndims`` batch dims moved into the event.

    >>> import ember
    >>> from ember.distributions import Normal
    >>> d = Independent(Normal(ember.zeros(3), ember.ones(3)), 1)
    >>> d.batch_shape, d.event_shape
    (ember.Size([]), ember.Size([3]))
    """

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        n = reinterpreted_batch_ndims
        batch = tuple(base_distribution.batch_shape)
        if n > len(batch):
            raise _err(ValueError, f"Independent: reinterpreted_batch_ndims={n} exceeds the base distribution's "
                                   f"batch dims {batch}")
        self.base_dist, self.reinterpreted_batch_ndims = base_distribution, n
        super().__init__(batch[:len(batch) - n], batch[len(batch) - n:] + tuple(base_distribution.event_shape),
                         validate_args=False)

    has_rsample = property(lambda self: self.base_dist.has_rsample)
    @property
    def support(self):
        base = self.base_dist.support
        return None if base is None else constraints.independent(base, self.reinterpreted_batch_ndims)

    def expand(self, batch_shape, _instance=None):
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        n = self.reinterpreted_batch_ndims
        new.base_dist = self.base_dist.expand(tuple(batch_shape) + tuple(self.event_shape[:n]))
        new._batch_shape = Size(batch_shape)
        return new
    mean = property(lambda self: self.base_dist.mean)
    mode = property(lambda self: self.base_dist.mode)
    variance = property(lambda self: self.base_dist.variance)

    def sample(self, sample_shape=Size()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=Size()):
        return self.base_dist.rsample(sample_shape)

    def _sum_rightmost(self, x):
        for _ in range(self.reinterpreted_batch_ndims):
            x = x.sum(-1)
        return x

    def log_prob(self, value):
        return self._sum_rightmost(self.base_dist.log_prob(value))

    def entropy(self):
        return self._sum_rightmost(self.base_dist.entropy())
