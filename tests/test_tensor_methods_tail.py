"""The later PyTorch Tensor methods (ember/_tensor_tail.py) against PyTorch: one row per call, the same lambda
on both libraries; the random fills checked by their sample moments (Ember's generator is not PyTorch's)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

CALLS = {
    "fill_diagonal": lambda L: L.zeros(3, 3).fill_diagonal_(2.0),
    "fill_diagonal_tall_wrap": lambda L: L.zeros(7, 3).fill_diagonal_(1.0, wrap=True),
    "fill_diagonal_tall": lambda L: L.zeros(7, 3).fill_diagonal_(1.0),
    "fill_diagonal_cube": lambda L: L.zeros(2, 2, 2).fill_diagonal_(5.0),
    "put": lambda L: L.arange(6.0).reshape(2, 3).put(L.tensor([0, -1]), L.tensor([9.0, 8.0])),
    "put_accumulate": lambda L: L.arange(6.0).reshape(2, 3).put(L.tensor([1, 1]), L.ones(2), accumulate=True),
    "put_": lambda L: L.zeros(4).put_(L.tensor([3]), L.tensor([7.0])),
    "apply_": lambda L: L.tensor([1.0, 2.0]).apply_(lambda v: v * 10 + 1),
    "map_": lambda L: L.tensor([1.0, 2.0]).map_(L.tensor([3.0, 4.0]), lambda a, b: a * b),
    "map2_": lambda L: L.tensor([1.0, 2.0]).map2_(L.tensor([3.0, 4.0]), L.tensor([1.0, 0.0]),
                                                  lambda a, b, c: a + b * c),
    "argwhere": lambda L: L.tensor([[0.0, 1.0], [2.0, 0.0]]).argwhere(),
    "broadcast_to": lambda L: L.tensor([1.0, 2.0]).broadcast_to((3, 2)),
    "isposinf": lambda L: L.tensor([math.inf, -math.inf, 1.0]).isposinf(),
    "isneginf": lambda L: L.tensor([math.inf, -math.inf, 1.0]).isneginf(),
    "isreal": lambda L: L.tensor([1.0, 2.0]).isreal(),
    "bitwise_left_shift_": lambda L: L.tensor([1, 2]).bitwise_left_shift_(2),
    "bitwise_right_shift_": lambda L: L.tensor([8, 6]).bitwise_right_shift_(1),
    "char": lambda L: L.tensor([1.7, -2.2]).char(),
    "dim_order_transposed": lambda L: L.tensor(L.ones(2, 3).t().dim_order()),
    "dim_order_channels_last": lambda L: L.tensor(L.ones(1, 2, 3, 3).to(memory_format=L.channels_last).dim_order()),
    "unsafe_chunk": lambda L: L.stack(L.arange(4.0).unsafe_chunk(2)),
    "unsafe_split": lambda L: L.stack(L.arange(4.0).unsafe_split(2)),
}


@pytest.mark.parametrize("name", CALLS)
def test_tensor_method_matches_torch(name):
    got, want = CALLS[name](ember), CALLS[name](torch)
    assert got.dtype.name == str(want.dtype).split(".")[1], name
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_attributes_answer_as_torch_on_cpu():
    x = ember.ones(3)
    assert x.data_ptr() == x.numpy().__array_interface__["data"][0]
    assert x[1:].data_ptr() - x.data_ptr() == 4
    assert not x.is_pinned() and x.pin_memory() is x and not x.is_inference()


SAMPLES = {  # fill, expected mean (or None), expected std of a transform, and that transform
    "exponential_": (lambda t, g: t.exponential_(2.0, generator=g), 0.5, 0.5, lambda s: s),
    "geometric_": (lambda t, g: t.geometric_(0.25, generator=g), 4.0, math.sqrt(0.75) / 0.25, lambda s: s),
    "log_normal_": (lambda t, g: t.log_normal_(0.5, 0.25, generator=g), 0.5, 0.25, lambda s: s.log()),
    "cauchy_": (lambda t, g: t.cauchy_(1.0, 2.0, generator=g), 1.0, None, lambda s: s),  # mean: the median here
}


@pytest.mark.parametrize("name", SAMPLES)
def test_random_fills_have_the_right_distribution(name):
    fill, mean, std, transform = SAMPLES[name]
    n = 100_000
    s = transform(fill(ember.empty(n, dtype=ember.float64), ember.Generator().manual_seed(1)))
    if std is None:
        assert abs(s.median().item() - mean) < 0.05
        assert abs((((s - mean).abs() < 2.0).double().mean()).item() - 0.5) < 0.01  # half within one scale
    else:
        assert abs(s.mean().item() - mean) < 5 * std / math.sqrt(n)
        assert abs(s.std().item() - std) < 0.02 * std


@pytest.mark.parametrize("call,error,words", [
    (lambda: ember.zeros(2, 3, 4).fill_diagonal_(1.0), RuntimeError, "all dims equal"),
    (lambda: ember.zeros(4).put(ember.tensor([4]), ember.tensor([1.0])), IndexError, "out of range"),
    (lambda: ember.zeros(3, dtype=ember.int64).exponential_(), TypeError, "floating point"),
    (lambda: ember.zeros(3).geometric_(1.5), ValueError, "0 < p <= 1"),
    (lambda: ember.zeros(3).exponential_(-1.0), ValueError, "positive"),
])
def test_bad_arguments_are_refused(call, error, words):
    with pytest.raises(error, match=words):
        call()
