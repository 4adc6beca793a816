"""Compare nested results of the same program run on Ember and on PyTorch: tensors (any depth of tuples, lists
and dicts) become NumPy arrays, plain values stay, and the two trees must agree leaf by leaf."""
from __future__ import annotations

import numpy as np


def as_numpy(v):
    """``v`` with every tensor as a NumPy array (tuples become lists, dicts lists of [key, value])."""
    if isinstance(v, (tuple, list)):
        return [as_numpy(x) for x in v]
    if isinstance(v, dict):
        return [[k, as_numpy(x)] for k, x in v.items()]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return np.asarray(v.detach().numpy() if hasattr(v, "detach") else v)


def assert_same(want, got, rtol=1e-6, atol=1e-6):
    """The trees ``want`` and ``got`` (from ``as_numpy``) agree: arrays within tolerance, the rest equal."""
    if isinstance(want, list):
        assert isinstance(got, list) and len(want) == len(got), (want, got)
        for w, g in zip(want, got):
            assert_same(w, g, rtol, atol)
    elif isinstance(want, np.ndarray):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    else:
        assert want == got, (want, got)
