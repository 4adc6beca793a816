"""GradScaler step by step against torch.amp.GradScaler on the CPU, and bf16-autocast training curves against
float32 (Ember's and PyTorch's)."""
import numpy as np
import pytest

import ember
from ember.testing import assert_close

torch = pytest.importorskip("torch", reason="torch is the oracle for these tests (pip install 'ember[test]')")
torch.set_num_threads(1)  # the machine is shared: two spinning threads make torch 10-50x slower here

RNG = np.random.default_rng(1)
W0, B0 = RNG.standard_normal((2, 4)).astype(np.float32), RNG.standard_normal(2).astype(np.float32)
BATCHES = [RNG.standard_normal((8, 4)).astype(np.float32) for _ in range(12)]
BATCHES[2][0, 0] = np.inf  # steps whose gradients overflow: skipped, scale backs off
BATCHES[7][3, 1] = np.nan


def _setup(lib, **scaler_kw):
    model = lib.nn.Linear(4, 2)
    with lib.no_grad():
        model.weight.copy_(lib.tensor(W0))
        model.bias.copy_(lib.tensor(B0))
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = lib.amp.GradScaler("cpu", **scaler_kw)
    return model, opt, scaler


def _trajectory(lib, **scaler_kw):
    model, opt, scaler = _setup(lib, **scaler_kw)
    rows = []
    for i, batch in enumerate(BATCHES):
        opt.zero_grad()
        loss = (model(lib.tensor(batch)) ** 2).mean()
        scaler.scale(loss).backward()
        if i % 2:  # unscale_ before clipping, as the recipe does
            scaler.unscale_(opt)
            lib.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        stepped = scaler.step(opt)
        scaler.update()
        rows.append((scaler.get_scale(), scaler._get_growth_tracker(), dict(scaler.state_dict()), stepped,
                     model.weight.detach().numpy().copy(), model.bias.detach().numpy().copy()))
    return rows


def test_grad_scaler_matches_torch_step_by_step():
    kw = dict(init_scale=2.0 ** 10, growth_factor=2.0, backoff_factor=0.5, growth_interval=3)
    ours, theirs = _trajectory(ember, **kw), _trajectory(torch, **kw)
    scales = [r[0] for r in theirs]
    assert any(b < a for a, b in zip(scales, scales[1:])) and any(b > a for a, b in zip(scales, scales[1:]))
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a[0] == b[0] and a[1] == b[1] and a[2] == b[2], f"step {step}"
        assert a[3] == b[3], f"step {step}"  # None for both (SGD.step returns None) whether or not skipped
        assert_close(a[4], b[4], rtol=1e-5, atol=1e-6, msg=f"weight after step {step}")
        assert_close(a[5], b[5], rtol=1e-5, atol=1e-6, msg=f"bias after step {step}")


def test_grad_scaler_state_dict_round_trip_and_new_scale():
    _, _, scaler = _setup(ember, init_scale=512.0, growth_interval=7)
    state = {"scale": 64.0, "growth_factor": 3.0, "backoff_factor": 0.25, "growth_interval": 5,
             "_growth_tracker": 2}
    scaler.load_state_dict(state)
    assert scaler.state_dict() == state
    _, _, theirs = _setup(torch, init_scale=512.0, growth_interval=7)
    theirs.load_state_dict(state)
    assert theirs.state_dict() == scaler.state_dict()
    scaler.scale(ember.ones(()))
    scaler.update(new_scale=8.0)
    assert scaler.get_scale() == 8.0
    with pytest.raises(RuntimeError, match="empty"):
        scaler.load_state_dict({})


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_grad_scaler_misuse_errors_like_torch(lib):
    model, opt, scaler = _setup(lib)
    scaler.scale(model(lib.ones(2, 4)).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.step(opt)
    scaler.update()


def test_disabled_scaler_is_a_pass_through():
    model, opt, scaler = _setup(ember, enabled=False)
    loss = model(ember.ones(2, 4)).sum()
    assert scaler.scale(loss) is loss and scaler.get_scale() == 1.0 and scaler.state_dict() == {}


# -- training curves --------------------------------------------------------------------------------------------
def _curve(lib, autocast, steps=40):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    y = (x.reshape(64, -1)[:, :4].sum(1) > 0).astype(np.int64) + 2 * (x.reshape(64, -1)[:, 4:8].sum(1) > 0)
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(8 * 16, 32), nn.ReLU(), nn.Linear(32, 4))
    init = np.random.default_rng(9)
    with lib.no_grad():
        for p in model.parameters():  # the same start in both libraries
            p.copy_(lib.tensor((init.standard_normal(tuple(p.shape)) * 0.2).astype(np.float32)))
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = lib.tensor(x), lib.tensor(y)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        with lib.autocast("cpu", dtype=lib.bfloat16, enabled=autocast):
            loss = nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


def test_bf16_autocast_training_tracks_fp32():
    fp32, bf16 = _curve(ember, False), _curve(ember, True)
    torch_bf16 = _curve(torch, True)
    assert fp32[-1] < 0.5 * fp32[0]  # it learns
    # the bf16 curve follows the fp32 one (rounding noise only), as closely as PyTorch's bf16 curve does
    gap, torch_gap = np.abs(bf16 - fp32).max(), np.abs(torch_bf16 - fp32).max()
    assert gap < max(0.1 * fp32[0], 3 * torch_gap), (gap, torch_gap)
    assert abs(bf16[-1] - fp32[-1]) < 0.1 * fp32[0]
