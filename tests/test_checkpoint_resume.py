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


def _identity(step):
    return step


def _steps(model, opt, sched, data, start, stop, compile_step=_identity):
    x, y = data

    def step():
        opt.zero_grad()
        # the batch is drawn from Ember's RNG too, so the RNG state must round-trip for exact resumption
        idx = ember.randint(0, x.shape[0], (16,))
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        return loss

    step = compile_step(step)
    losses = []
    for _ in range(start, stop):
        model.train()
        loss = step()
        sched.step()
        losses.append(loss.item())
    return losses


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return ember.tensor(rng.standard_normal((64, 8)), dtype=ember.float32), ember.tensor(rng.integers(0, 3, 64))


def _full_and_resumed(tmp_path, data, compile_step=_identity):
    """(losses of 8 uninterrupted steps, losses of 4 steps + checkpoint + 4 resumed steps, the final lr)."""
    ember.manual_seed(123)
    full = _steps(*_build(), data, 0, 8, compile_step)

    ember.manual_seed(123)
    model, opt, sched = _build()
    first = _steps(model, opt, sched, data, 0, 4, compile_step)
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
    rest = _steps(model2, opt2, sched2, data, 4, 8, compile_step)
    return full, first + rest, sched2.get_last_lr()


def test_resume_reproduces_uninterrupted_losses(tmp_path, data):
    full, resumed, lr = _full_and_resumed(tmp_path, data)
    assert resumed == full  # bit-for-bit, not approximately
    assert lr == pytest.approx([1e-2 * 0.5 ** 4])


def test_resume_with_the_step_compiled_equals_eager(tmp_path, data):
    (tmp_path / "eager").mkdir()
    (tmp_path / "compiled").mkdir()
    eager, _, _ = _full_and_resumed(tmp_path / "eager", data)
    steps = []

    def compile_step(step):
        steps.append(ember.compile(step, strict=True, jit=False))
        return steps[-1]

    full, resumed, _ = _full_and_resumed(tmp_path / "compiled", data, compile_step)
    np.testing.assert_allclose(full, eager, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(resumed, eager, rtol=1e-6, atol=1e-7)
    assert sum(ember.compile.stats(s)["cache_hits"] for s in steps) >= 4


def test_checkpoint_opens_with_safetensors(tmp_path, data):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    model, opt, _ = _build()
    _steps(model, opt, optim.lr_scheduler.StepLR(opt, 1), data, 0, 1)
    ember.save(model.state_dict(), tmp_path / "m.safetensors")
    arrays = safetensors_numpy.load_file(str(tmp_path / "m.safetensors"))
    assert sorted(arrays) == sorted(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(arrays[k], v.numpy())
