"""Small PyTorch training utilities: ember.random.fork_rng, nn.Module.to_empty, nn.attention.sdpa_kernel."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.attention import SDPBackend, sdpa_kernel


@pytest.mark.parametrize("enabled", [True, False])
def test_fork_rng_restores_the_state_on_exit(enabled):
    ember.manual_seed(3)
    with ember.random.fork_rng(enabled=enabled, devices=[], device_type="cuda"):
        inside = ember.rand(4).numpy()
        nn.functional.dropout(ember.ones(8), 0.5)
    after = ember.rand(4).numpy()
    assert np.array_equal(inside, after) == enabled


def test_fork_rng_restores_after_an_error():
    ember.manual_seed(3)
    want = ember.rand(2).numpy()
    ember.manual_seed(3)
    with pytest.raises(KeyError):
        with ember.random.fork_rng():
            ember.rand(5)
            raise KeyError("x")
    np.testing.assert_array_equal(ember.rand(2).numpy(), want)


def test_to_empty_keeps_shapes_dtypes_and_parameter_objects():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    before = {k: (tuple(v.shape), v.dtype) for k, v in net.state_dict().items()}
    weight, mean = net[0].weight, net[1].running_mean
    assert net.to_empty(device="cpu") is net
    assert {k: (tuple(v.shape), v.dtype) for k, v in net.state_dict().items()} == before
    assert net[0].weight is weight and weight.requires_grad  # optimizers keep their references
    assert net[1].running_mean is not mean and not net[1].running_mean.requires_grad
    net.load_state_dict({k: ember.zeros(*s, dtype=d) for k, (s, d) in before.items()})  # then loaded
    assert float(net[0].weight.abs().sum()) == 0.0


def test_to_empty_recurse_false_leaves_children():
    net = nn.Sequential(nn.Linear(2, 2))
    data = net[0].weight._data
    net.to_empty(device="cpu", recurse=False)
    assert net[0].weight._data is data
    net.to_empty(device="cpu")
    assert net[0].weight._data is not data


@pytest.mark.parametrize("backends", [SDPBackend.MATH, [SDPBackend.FLASH_ATTENTION],
                                      [SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH], list(SDPBackend)])
def test_sdpa_kernel_does_not_change_the_result(backends):
    q, k, v = ember.randn(2, 3, 5, 4), ember.randn(2, 3, 5, 4), ember.randn(2, 3, 5, 4)
    want = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
    with sdpa_kernel(backends, set_priority=True):
        got = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backends", [[], [SDPBackend.ERROR]])
def test_sdpa_kernel_with_no_backend_left_raises_at_the_call(backends):
    q = ember.randn(1, 1, 2, 4)
    with sdpa_kernel(backends):
        with pytest.raises(RuntimeError, match="no viable backend"):
            nn.functional.scaled_dot_product_attention(q, q, q)
    nn.functional.scaled_dot_product_attention(q, q, q)  # restored on exit


@pytest.mark.parametrize("backends,words", [(3, "got int"), (["math"], "a list holding str"),
                                            ("MATH", "got str")])
def test_sdpa_kernel_refuses_non_backends(backends, words):
    with pytest.raises(AssertionError, match=words):
        sdpa_kernel(backends)


def test_sdpa_backend_values_match_torch():
    pytest.importorskip("torch")
    from torch.nn.attention import SDPBackend as TorchBackend

    assert {m.name: int(m.value) for m in SDPBackend} == {n: int(m.value) for n, m in TorchBackend.__members__.items()}
