"""div with a rounding mode on integer tensors matches PyTorch in values and dtype (an exact integer result, no
float round trip), one row per case; an unknown rounding mode is refused by name."""
from __future__ import annotations

import pytest
import torch

import ember

BIG = 2**53 + 1  # not representable in float64: a float round trip would change it
CASES = [  # (dividend, divisor): lists are tensors, a bare int stays a Python scalar
    ([7, -7, 6, -6, 0, 5], [2, 2, -4, 4, 3, -5]),
    ([7, -7, 1, -1], 2),
    ([7, -7, 1, -1], -2),
    (7, [2, -2, 3, -3]),
    ([BIG, -BIG], [2, 2]),
]


def _as(lib, v, dtype):
    return lib.tensor(v, dtype=dtype) if isinstance(v, list) else v


@pytest.mark.parametrize("mode", ["trunc", "floor"])
@pytest.mark.parametrize("dtype", ["int64", "int32"])
@pytest.mark.parametrize("case", range(len(CASES)), ids=lambda i: f"case{i}")
def test_integer_div_with_rounding_mode_matches_torch(case, dtype, mode):
    a, b = CASES[case]
    if dtype == "int32" and (a == [BIG, -BIG]):
        pytest.skip("BIG does not fit in int32")
    got = ember.div(_as(ember, a, getattr(ember, dtype)), _as(ember, b, getattr(ember, dtype)), rounding_mode=mode)
    want = torch.div(_as(torch, a, getattr(torch, dtype)), _as(torch, b, getattr(torch, dtype)), rounding_mode=mode)
    assert (str(got.dtype).split(".")[-1], got.tolist()) == (str(want.dtype).split(".")[-1], want.tolist())


def test_tensor_method_div_rounds_integers_like_torch():
    got = ember.tensor([7, -7]).div(2, rounding_mode="trunc")
    assert (got.dtype, got.tolist()) == (ember.int64, [3, -3])


def test_unknown_rounding_mode_is_refused():
    with pytest.raises(ValueError, match="rounding_mode"):
        ember.div(ember.tensor([1.0]), 2.0, rounding_mode="round")
