"""The differential harness: run a training program eagerly and with its step under ``ember.compile`` from the
same seed and weights, and compare every step.

A row's ``make()`` (called right after ``ember.manual_seed(0)``) builds a Program: the step function, the
arguments of each call, and the state to compare (modules: parameters, their gradients and buffers;
optimizers: every state entry and the learning rates; ``watch``: more tensors, e.g. arguments changed in
place, and their gradients). The generator is then reseeded, so random draws inside the step (dropout masks,
``randn_like``) start from the same state in both runs: a compiled graph must draw the same numbers, in the
same order, as the eager code.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

import ember

N_STEPS = 4  # the first (or first two, when optimizer state appears) calls trace; the rest run the graph
RTOL = ATOL = 1e-6


@dataclass
class Program:
    step: object
    batches: list  # the arguments of each call (a tuple each)
    modules: list = field(default_factory=list)
    optimizers: list = field(default_factory=list)
    schedulers: list = field(default_factory=list)  # stepped after each call, outside the step
    watch: list = field(default_factory=list)


@dataclass
class Row:
    name: str
    make: object
    compiled_runs: bool = True  # False: every call retraces (e.g. a learning rate that changes each step)
    breaks: str | None = None  # the source text of the line where a graph break is expected
    jit: bool | None = False  # None: the fused numba/CuPy kernels when installed (as ember.compile's default)


def _arrays(prefix, t, snap):
    snap[prefix] = np.array(t.detach().numpy(), copy=True)
    if t.grad is not None:
        snap[prefix + ".grad"] = np.array(t.grad.detach().numpy(), copy=True)


def snapshot(out, prog) -> dict:
    """Every number a step leaves behind: its outputs and the program's state (copied)."""
    snap = {}
    leaves = out if isinstance(out, (tuple, list)) else [out]
    for k, t in enumerate(_tensors(leaves)):
        snap[f"out[{k}]"] = np.array(t.detach().numpy(), copy=True)
    for i, m in enumerate(prog.modules):
        for name, p in m.named_parameters():
            _arrays(f"module{i}.{name}", p, snap)
        for name, b in m.named_buffers():
            snap[f"module{i}.{name}"] = np.array(b.numpy(), copy=True)
    for i, opt in enumerate(prog.optimizers):
        for j, st in enumerate(opt.state.values()):
            for key, v in st.items():
                snap[f"optimizer{i}.state{j}.{key}"] = np.array(v.numpy() if hasattr(v, "numpy") else v)
        for j, group in enumerate(opt.param_groups):
            snap[f"optimizer{i}.group{j}.lr"] = np.asarray(group["lr"])
    for i, t in enumerate(prog.watch):
        _arrays(f"watch{i}", t, snap)
    return snap


def _tensors(items):
    for x in items:
        if isinstance(x, ember.Tensor):
            yield x
        elif isinstance(x, (tuple, list)):
            yield from _tensors(x)


def run(row, compiled, strict=True):
    """(per-step snapshots, the compiled function or None). Both runs also check that no primitive returns an
    input's memory without declaring it (``view`` / ``aliases``): compiled graphs plan buffers on that fact, and
    their layouts differ from eager ones (a planned buffer is contiguous where an eager result kept a permuted
    layout), so the compiled run checks the executor's calls too."""
    ember.manual_seed(0)
    prog = row.make()
    ember.manual_seed(1)
    fn = ember.compile(prog.step, strict=strict, jit=row.jit) if compiled else prog.step
    trail = []
    with _no_undeclared_aliases(row.name):
        for args in prog.batches:
            out = fn(*args)
            for s in prog.schedulers:
                s.step()
            trail.append(snapshot(out, prog))
    return trail, (fn if compiled else None)


@contextlib.contextmanager
def _no_undeclared_aliases(name):
    """Wrap every primitive that declares neither ``view`` nor ``aliases``: its result must not share memory with
    an operand (im2col of a 1x1 window once did, and a compiled step overwrote the columns). Recorded, then
    asserted after the run (an error inside a forward would be reworded or handled by the caller)."""
    from ember.ops import REGISTRY

    found = []

    def checked(op, forward):
        def run_op(xp, *arrays, **attrs):
            out = forward(xp, *arrays, **attrs)
            for res in out if isinstance(out, (tuple, list)) else (out,):
                if any(isinstance(res, np.ndarray) and isinstance(a, np.ndarray) and res.size and a.size
                       and np.shares_memory(res, a) for a in arrays):
                    found.append(op.name)
            return out
        return run_op

    # cast: a cast to the same dtype aliases, which the memory planner knows
    wrapped = {op: op.forward for op in REGISTRY.values() if not op.aliases and op.name != "cast"}
    for op, forward in wrapped.items():
        op.forward = checked(op, forward)
    try:
        yield
    finally:
        for op, forward in wrapped.items():
            op.forward = forward
    assert not found, f"{name}: {sorted(set(found))} returned an input's memory without declaring view/aliases"


def assert_same(row, eager, compiled):
    for i, (e, c) in enumerate(zip(eager, compiled)):
        assert sorted(e) == sorted(c), f"{row.name} step {i}: different state {sorted(set(e) ^ set(c))}"
        for key in e:
            np.testing.assert_allclose(c[key], e[key], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{row.name} step {i}: {key} (compiled vs eager)")
