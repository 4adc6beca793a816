"""ember.profiler: eager ops and compiled graph nodes timed, nesting, PyTorch's table layout, and a Chrome trace
whose events follow the Trace Event Format (what Perfetto and chrome://tracing load)."""
from __future__ import annotations

import gzip
import json
import re

import pytest

import ember
from ember import nn
from ember._state import STATE
from ember.profiler import ProfilerActivity, profile, record_function


def _train_step(model, x):
    model(x).relu().sum().backward()


def test_eager_ops_nest_under_record_function():
    model = nn.Linear(6, 4)
    x = ember.randn(3, 6)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("step"):
            _train_step(model, x)
    events = prof.events()
    step = next(e for e in events if e.name == "step")
    assert step.parent is None and step.cat == "user_annotation"
    linear = next(e for e in events if e.name == "linear")
    assert linear.parent is step and linear.input_shapes == [[3, 6], [4, 6], [4]]
    assert {"relu", "sum", "matmul"} <= {e.name for e in step.children}  # forward and backward ops
    assert step.cpu_time_total >= sum(c.cpu_time_total for c in step.children)
    assert STATE.profiler is None


def test_profiler_off_after_an_op_fails():
    with pytest.raises(RuntimeError):
        with profile():
            ember.ones(2, 3) @ ember.ones(2, 3)
    assert STATE.profiler is None


def test_record_function_is_inert_without_a_profiler():
    with record_function("nothing"):
        y = ember.ones(2) + 1
    assert y.tolist() == [2.0, 2.0]

    @record_function("decorated")
    def f(x):
        return x * 2

    with profile() as prof:
        f(ember.ones(2))
    assert [e.name for e in prof.events()] == ["decorated", "mul"]


def test_compiled_graph_nodes_are_timed():
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    f = ember.compile(model)
    x = ember.randn(4, 8)
    with ember.no_grad():
        f(x)
        with profile(record_shapes=True) as prof:
            out = f(x)
        assert out.tolist() == f(x).tolist()  # the timed copy computes the same thing
    graph = next(e for e in prof.events() if e.cat == "compiled_graph")
    names = [c.name for c in graph.children]
    assert names.count("graph::linear") == 2 and all(c.cat == "graph_node" for c in graph.children)
    first = next(c for c in graph.children if c.name == "graph::linear")
    assert first.input_shapes == [[4, 8], [16, 8], [16]]


def test_table_is_laid_out_as_pytorch_prints_it():
    with profile() as prof:
        with record_function("outer"):
            for _ in range(3):
                ember.ones(4, 4).exp()
    table = prof.key_averages().table(sort_by="cpu_time_total", row_limit=2)
    lines = table.splitlines()
    assert re.fullmatch(r"-+(  -{12}){6}  ", lines[0]) and lines[0] == lines[2] == lines[-2]
    assert lines[1].split() == ["Name", "Self", "CPU", "%", "Self", "CPU", "CPU", "total", "%", "CPU", "total",
                                "CPU", "time", "avg", "#", "of", "Calls"]
    assert lines[3].split()[0] == "outer" and lines[3].split()[1].endswith("%")
    assert len(lines) == 7 and lines[-1].startswith("Self CPU time total: ")
    assert re.fullmatch(r"\d+\.\d{3}(us|ms|s)", lines[-1].split(": ")[1])
    rows = {r.key: r for r in prof.key_averages()}
    assert rows["exp"].count == 3 and rows["outer"].count == 1
    with pytest.raises(ValueError, match="sort_by"):
        prof.key_averages().table(sort_by="cuda_memory")


def test_group_by_input_shape_adds_the_column():
    with profile(record_shapes=True) as prof:
        ember.ones(2, 3).sum()
        ember.ones(5).sum()
    table = prof.key_averages(group_by_input_shape=True).table()
    assert "Input Shapes" in table and "[[2, 3]]" in table and "[[5]]" in table


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_chrome_trace_follows_the_trace_event_format(tmp_path, suffix):
    model = nn.Linear(5, 3)
    compiled = ember.compile(lambda x: (x * 2).exp().sum())
    compiled(ember.ones(4))
    with profile(record_shapes=True) as prof:
        with record_function("step"):
            _train_step(model, ember.randn(2, 5))
            compiled(ember.ones(4))
    path = prof.export_chrome_trace(tmp_path / f"trace{suffix}")
    doc = json.load(gzip.open(path, "rt") if suffix.endswith(".gz") else open(path))
    events = doc["traceEvents"]
    assert isinstance(events, list) and doc["displayTimeUnit"] in ("ms", "ns")
    for ev in events:
        assert ev["ph"] in ("X", "M") and isinstance(ev["name"], str)
        assert isinstance(ev["pid"], int) and isinstance(ev["tid"], int)
        if ev["ph"] == "X":
            assert isinstance(ev["ts"], (int, float)) and isinstance(ev["dur"], (int, float)) and ev["dur"] >= 0
            assert isinstance(ev["cat"], str)
        else:
            assert ev["name"] in ("process_name", "thread_name") and "name" in ev["args"]
    complete = sorted((e for e in events if e["ph"] == "X"), key=lambda e: (e["ts"], -e["dur"]))
    names = {e["name"] for e in complete}
    assert {"step", "linear"} <= names and any(n.startswith("compiled graph (") for n in names)
    assert any(n.startswith("graph::") for n in names)
    stack = []  # complete events on one thread nest properly (no partial overlaps): viewers need that
    for e in complete:
        while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
            stack.pop()
        if stack:
            assert e["ts"] + e["dur"] <= stack[-1]["ts"] + stack[-1]["dur"] + 1e-3, (e, stack[-1])
        stack.append(e)
    linear = next(e for e in complete if e["name"] == "linear")
    assert linear["args"]["Input Dims"] == [[2, 5], [3, 5], [3]]


def test_results_need_a_finished_run():
    prof = profile()
    with pytest.raises(RuntimeError, match="has not run"):
        prof.events()
    prof.start()
    with pytest.raises(RuntimeError, match="still running"):
        prof.key_averages()
    prof.stop()
    with pytest.raises(TypeError, match="ProfilerActivity"):
        profile(activities=["CPU"])
