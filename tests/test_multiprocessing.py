"""ember.multiprocessing: shared-memory tensors across spawned processes (no pickle), and a Hogwild program."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ember
import ember.multiprocessing as mp
from ember import nn, optim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def _suicide(i):
    import os
    import signal

    if i == 0:
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_process_raises_with_its_exit_code():
    with pytest.raises(mp.ProcessExitedException, match="process 0 of 1 exited with code -9"):
        mp.spawn(_suicide, nprocs=1)


@pytest.mark.parametrize("args,where", [
    ((lambda: 0,), "args[0]"),  # a lambda has no importable name
    (({"opt": object()},), "args[0]['opt']"),  # an arbitrary object would need pickle
])
def test_what_cannot_travel_without_pickle_is_refused_before_starting(args, where):
    with pytest.raises(TypeError, match=re.escape(where) + ".*cannot be sent to a new process"):
        mp.spawn(_fill, args=args, nprocs=1)


SCRIPT = """
import ember
import ember.multiprocessing as mp
from ember import nn


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.head = nn.Linear(3, 5, bias=False)
        self.head.weight = self.emb.weight


def child(i, model, copied, out):
    # tied weights stay one Parameter; a copied tensor is the parent's values; `out` is shared memory
    with ember.no_grad():
        out[0] = float(model.head.weight is model.emb.weight)
        out[1] = float(copied.sum().item())
        out[2] = float(isinstance(model, Tied) and model.emb.weight.is_shared())
        copied.add_(1.0)  # a copy: the parent does not see this


if __name__ == "__main__":
    model = Tied().share_memory()
    copied, out = ember.ones(4), ember.zeros(3).share_memory_()
    mp.spawn(child, args=(model, copied, out), nprocs=1)
    print("RESULT", out.tolist(), copied.tolist())
"""


def test_main_script_function_module_and_copied_tensor(tmp_path):
    script = tmp_path / "hog.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert "RESULT [1.0, 4.0, 1.0] [1.0, 1.0, 1.0, 1.0]" in proc.stdout, proc.stdout + proc.stderr


class _Args:  # what mnist_hogwild passes: an argparse-like object, which cannot travel as JSON
    steps = 40


def _hogwild_process(rank, args, model, x, y):
    _hogwild(rank, model, x, y, args.steps)


def test_process_api_trains_a_shared_model_with_any_arguments():
    # torch.multiprocessing's Process/set_start_method as Hogwild programs use them; the child is forked
    mp.set_start_method("spawn", force=True)
    assert mp.get_start_method() == "spawn"
    ember.manual_seed(0)
    model = nn.Linear(4, 1).share_memory()
    x = ember.randn(32, 4)
    y = x @ ember.tensor([[1.0], [-2.0], [0.5], [3.0]])
    before = nn.functional.mse_loss(model(x), y).item()
    procs = [mp.Process(target=_hogwild_process, args=(rank, _Args(), model, x, y)) for rank in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    after = nn.functional.mse_loss(model(x), y).item()
    assert after < 0.5 * before, (before, after)
    with pytest.raises(ValueError, match="cannot find context"):
        mp.set_start_method("threads", force=True)
