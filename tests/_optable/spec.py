"""Input specs for op-table rows and the Row record.

A case is a tuple of specs, one per argument. Shapes may use letters ("a", "b", ...) that take one random
size in [2, 4] per case, so the same letter means the same size across the arguments of a case and the
table exercises random shapes while broadcasting patterns (literal 1s, missing leading dims) stay exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


class Spec:
    """One argument: ``make(rng, sizes)`` returns a NumPy array (or a Python value when ``literal``)."""

    differentiable = True
    literal = False

    def __init__(self, *shape, lo=-2.0, hi=2.0):
        self.shape, self.lo, self.hi = shape, lo, hi

    def resolve(self, rng, sizes):
        return tuple(
            sizes.setdefault(d, int(rng.integers(2, 5))) if isinstance(d, str) else d for d in self.shape
        )

    def make(self, rng, sizes):
        return rng.uniform(self.lo, self.hi, self.resolve(rng, sizes))


class F(Spec):
    """Uniform floats in [lo, hi)."""


class P(Spec):
    """Positive floats in [0.5, 2) (logs, square roots, powers)."""

    def __init__(self, *shape, lo=0.5, hi=2.0):
        super().__init__(*shape, lo=lo, hi=hi)


class NZ(Spec):
    """Floats with |x| in [0.5, 2) and a random sign: away from the kinks at 0 (abs, sign, relu)."""

    def make(self, rng, sizes):
        shape = self.resolve(rng, sizes)
        return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


class FR(Spec):
    """Floats whose fractional part stays away from 0 and 0.5 (floor, ceil, round, trunc, floordiv)."""

    def make(self, rng, sizes):
        shape = self.resolve(rng, sizes)
        frac = rng.uniform(0.1, 0.4, shape) + rng.integers(0, 2, shape) * 0.5
        return rng.integers(-3, 3, shape) + frac


class D(Spec):
    """Distinct floats (no ties): max/min, sort, topk, argmax are then differentiable and unambiguous."""

    def make(self, rng, sizes):
        shape = self.resolve(rng, sizes)
        n = math.prod(shape)
        return (rng.permutation(n).reshape(shape) - n / 2) * 0.25 + rng.uniform(0, 0.05, shape)


class I(Spec):  # noqa: E742
    """int64 in [lo, hi): not differentiable."""

    differentiable = False

    def __init__(self, *shape, lo=0, hi=3):
        super().__init__(*shape, lo=lo, hi=hi)

    def make(self, rng, sizes):
        return rng.integers(self.lo, self.hi, self.resolve(rng, sizes)).astype(np.int64)


class B(Spec):
    """Random bools: not differentiable."""

    differentiable = False

    def make(self, rng, sizes):
        return rng.random(self.resolve(rng, sizes)) < 0.5


class Perm(Spec):
    """An int64 index tensor holding a permutation of range(n) along ``axis`` of ``shape`` (no duplicates)."""

    differentiable = False

    def __init__(self, *shape, axis=0):
        super().__init__(*shape)
        self.axis = axis

    def make(self, rng, sizes):
        shape = self.resolve(rng, sizes)
        idx = np.argsort(rng.random(shape), axis=self.axis)
        return idx.astype(np.int64)


class Lit(Spec):
    """A Python value passed as it is (scalars, dims, shapes)."""

    differentiable = False
    literal = True

    def __init__(self, value):
        super().__init__()
        self.value = value

    def make(self, rng, sizes):
        return self.value


class Fn(Spec):
    """An array from ``make(rng, sizes)``; ``differentiable`` says whether floats from it get gradients."""

    def __init__(self, make, differentiable=True):
        super().__init__()
        self._make, self.differentiable = make, differentiable

    def make(self, rng, sizes):
        return self._make(rng, sizes)


@dataclass
class Row:
    """One op-table row.

    ``fn(lib, *args)`` runs the op with ``lib`` = ember or torch (their APIs agree); ``torch_fn`` overrides it
    for torch, ``torch=False`` skips torch
    (``torch_grad=False`` only its backward, where torch has none). ``ref(*arrays)`` is the NumPy
    reference (float64). ``prims`` are
    the primitives the row must exercise (checked at run time); ``covers`` the public names it tests.
    ``grad``: run first-order checks; ``grad2``: second-order too (defaults to ``grad``).
    ``check(out)`` replaces ``ref`` for random ops (whose values have no reference).
    """

    name: str
    fn: object
    ref: object
    cases: list
    prims: tuple = ()
    covers: tuple = ()
    grad: bool = True
    grad2: bool | None = None
    torch_fn: object = None
    torch: bool = True
    torch_grad: bool = True
    rtol: float = 1e-4
    atol: float = 1e-5
    check: object = None
    float_dtypes: tuple = field(default=("float32",))

    def __post_init__(self):
        if self.grad2 is None:
            self.grad2 = self.grad
        if not self.covers:
            self.covers = (self.name,)


def make_case(case, seed):
    """(values, differentiable flags) for one case: NumPy arrays / Python literals, in float64."""
    rng = np.random.default_rng(seed)
    sizes = {}
    values = [s.make(rng, sizes) if s.literal else np.asarray(s.make(rng, sizes)) for s in case]
    flags = [
        s.differentiable and not s.literal and np.asarray(v).dtype.kind == "f" for s, v in zip(case, values)
    ]
    return values, flags
