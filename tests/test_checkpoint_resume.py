"""Issue 3 acceptance: resuming from a checkpoint (model + optimizer + scheduler + RNG state) reproduces an
uninterrupted run's losses exactly on CPU, and the checkpoint is a safetensors file that runs no code."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn, optim


def _build():
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def _steps(model, opt, sched, data, start, stop):
    losses = []
    x, y = data
    for _ in range(start, stop):
        model.train()
        opt.zero_grad()
        # the batch is drawn from Ember's RNG too, so the RNG state must round-trip for exact resumption
        idx = ember.randint(0, x.shape[0], (16,))
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return ember.tensor(rng.standard_normal((64, 8)), dtype=ember.float32), ember.tensor(rng.integers(0, 3, 64))


def test_resume_reproduces_uninterrupted_losses(tmp_path, data):
    ember.manual_seed(123)
    full = _steps(*_build(), data, 0, 8)

    ember.manual_seed(123)
    model, opt, sched = _build()
    first = _steps(model, opt, sched, data, 0, 4)
    path = tmp_path / "ckpt.pt"
    ember.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "epoch": 4, "rng": ember.get_rng_state()}, path)

    ember.manual_seed(999)  # a different state, which the checkpoint must override
    model2, opt2, sched2 = _build()
    ckpt = ember.load(path)
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    ember.set_rng_state(ckpt["rng"])
    assert ckpt["epoch"] == 4
    rest = _steps(model2, opt2, sched2, data, 4, 8)
    assert first + rest == full  # bit-for-bit, not approximately
    assert sched2.get_last_lr() == pytest.approx([1e-2 * 0.5 ** 4])


def test_checkpoint_opens_with_safetensors(tmp_path, data):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    model, opt, _ = _build()
    _steps(model, opt, optim.lr_scheduler.StepLR(opt, 1), data, 0, 1)
    ember.save(model.state_dict(), tmp_path / "m.safetensors")
    arrays = safetensors_numpy.load_file(str(tmp_path / "m.safetensors"))
    assert sorted(arrays) == sorted(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(arrays[k], v.numpy())
