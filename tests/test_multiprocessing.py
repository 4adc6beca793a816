"""ember.multiprocessing: shared-memory tensors across spawned processes, and a Hogwild-style program."""
import numpy as np
import pytest

import ember
import ember.multiprocessing as mp
from ember import nn, optim


def _fill(i, t):
    with ember.no_grad():
        for _ in range(10):
            t[i] += 1.0


def _hogwild(i, model, x, y, steps):
    ember.manual_seed(i)
    opt = optim.SGD(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def _boom(i):
    if i == 1:
        raise ValueError("process 1 fails")


def test_shared_tensor_updates_are_seen_by_the_parent():
    t = ember.zeros(2).share_memory_()
    assert t.is_shared() and not ember.zeros(2).is_shared()
    mp.spawn(_fill, args=(t,), nprocs=2)
    assert t.tolist() == [10.0, 10.0]


def test_hogwild_processes_train_one_shared_model():
    ember.manual_seed(0)
    model = nn.Linear(4, 1).share_memory()
    x = ember.randn(32, 4)
    y = x @ ember.tensor([[1.0], [-2.0], [0.5], [3.0]])
    before = nn.functional.mse_loss(model(x), y).item()
    w0 = model.weight.detach().clone()
    mp.spawn(_hogwild, args=(model, x, y, 40), nprocs=2)
    after = nn.functional.mse_loss(model(x), y).item()
    assert not np.allclose(model.weight.detach().numpy(), w0.numpy()) and after < 0.5 * before, (before, after)


def test_a_failing_process_raises_with_its_traceback():
    with pytest.raises(mp.ProcessRaisedException, match="process 1 fails"):
        mp.spawn(_boom, nprocs=2)
