"""A profiler with PyTorch's API: per-op wall time of eager ops and per-node time of compiled graphs.

``profile()`` installs a recorder in the dispatch point (``ops.apply`` checks one thread-local field, so it
costs nothing measurable when off); ``record_function(name)`` marks user ranges; compiled graphs switch to
a timed copy of their generated code while a profiler is active. The results print as PyTorch's table
(``key_averages().table()``) and export as a Chrome trace (Perfetto, chrome://tracing).

Example:
    >>> import ember
    >>> from ember.profiler import profile, record_function, ProfilerActivity
    >>> x = ember.ones(8, 8, requires_grad=True)
    >>> with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
    ...     with record_function("step"):
    ...         (x @ x).relu().sum().backward()
    >>> [e.key for e in prof.key_averages()][:1]
    ['step']
    >>> "Self CPU time total" in prof.key_averages().table(sort_by="cpu_time_total", row_limit=5)
    True
"""

from __future__ import annotations

import enum
import functools
import gzip
import json
import os
import socket
import threading
import time

from ._state import STATE

__all__ = ["profile", "record_function", "ProfilerActivity", "tensorboard_trace_handler", "EventList",
           "FunctionEvent", "FunctionEventAvg"]

_clock = time.perf_counter_ns


class ProfilerActivity(enum.Enum):
    """What to record: ``CPU`` (host wall time) and ``CUDA`` (each op waits for the device, so its wall time
    includes the GPU's work)."""

    CPU = "CPU"
    CUDA = "CUDA"


class FunctionEvent:
    """One recorded range: an op, a compiled graph node, a compiled graph call or a ``record_function``."""

    __slots__ = ("name", "cat", "start_ns", "end_ns", "input_shapes", "tid", "children", "parent")

    def __init__(self, name, cat, start_ns, end_ns, input_shapes, tid):
        self.name, self.cat, self.start_ns, self.end_ns = name, cat, start_ns, end_ns
        self.input_shapes, self.tid = input_shapes, tid
        self.children: list[FunctionEvent] = []
        self.parent = None

    key = property(lambda self: self.name)
    cpu_time_total = property(lambda self: (self.end_ns - self.start_ns) / 1e3)  # microseconds, as PyTorch
    self_cpu_time_total = property(
        lambda self: self.cpu_time_total - sum(c.cpu_time_total for c in self.children))

    def __repr__(self):
        return f"<FunctionEvent {self.name} {self.cpu_time_total:.3f}us>"


class FunctionEventAvg:
    """Events of one name (and input shapes, when grouped by them) summed: PyTorch's key_averages row."""

    def __init__(self, key, input_shapes=None):
        self.key, self.input_shapes = key, input_shapes
        self.count = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0

    def add(self, event: FunctionEvent):
        self.count += 1
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total

    @property
    def cpu_time(self):
        return self.cpu_time_total / max(self.count, 1)

    cpu_time_avg = cpu_time

    @property
    def self_cpu_time(self):
        return self.self_cpu_time_total / max(self.count, 1)

    def __repr__(self):
        return f"<FunctionEventAvg {self.key} count={self.count} cpu_time_total={self.cpu_time_total:.3f}us>"


SORT_KEYS = ("cpu_time_total", "self_cpu_time_total", "cpu_time", "cpu_time_avg", "self_cpu_time", "count")


class EventList(list):
    """A list of events or averages with PyTorch's ``table()``."""

    def table(self, sort_by=None, row_limit=100, max_name_column_width=55, header=None, top_level_events_only=False):
        from ._profiler_table import build_table

        rows = list(self)
        if top_level_events_only:
            rows = [e for e in rows if getattr(e, "parent", None) is None]
        if sort_by is not None:
            key = sort_by.replace("cpu_time_avg", "cpu_time")
            if key not in SORT_KEYS:
                raise ValueError(f"table(sort_by={sort_by!r}): expected one of {', '.join(SORT_KEYS)}")
            rows.sort(key=lambda e: getattr(e, key), reverse=True)
        return build_table(self, rows, row_limit, max_name_column_width, header)

    def total_average(self) -> FunctionEventAvg:
        total = FunctionEventAvg("Total")
        for e in self:
            total.count += e.count if isinstance(e, FunctionEventAvg) else 1
            total.cpu_time_total += e.cpu_time_total
            total.self_cpu_time_total += e.self_cpu_time_total
        return total

    def __str__(self):
        return self.table()


class _Recorder:
    """What ``STATE.profiler`` points at while profiling: the hooks in ``ops.apply`` and the executor call it."""

    def __init__(self, record_shapes: bool, sync_device: bool):
        self.record_shapes, self.sync_device = record_shapes, sync_device
        self.raw: list = []  # (name, cat, start_ns, end_ns, shapes, tid)
        self.tid = threading.get_native_id()
        self.clock = _clock

    def add_op(self, op, inputs, start_ns, result=None):
        if self.sync_device and result is not None:
            _sync(result)
        shapes = [list(t.shape) for t in inputs] if self.record_shapes else None
        self.raw.append((op.name, "cpu_op", start_ns, _clock(), shapes, self.tid))

    def add_range(self, name, start_ns, end_ns, cat="user_annotation"):
        self.raw.append((name, cat, start_ns, end_ns, None, self.tid))

    def add_graph_call(self, name, start_ns, end_ns, nodes):
        """A compiled graph call and its nodes: ``nodes`` holds (label, start_ns, end_ns, shapes)."""
        self.raw.append((name, "compiled_graph", start_ns, end_ns, None, self.tid))
        for label, t0, t1, shapes in nodes:
            self.raw.append((label, "graph_node", t0, t1, shapes if self.record_shapes else None, self.tid))


def _sync(result):
    from . import backend

    data = getattr(result, "_data", None)
    if data is not None and backend.xp_of(data) is not backend.np:
        backend.xp_of(data).cuda.Stream.null.synchronize()


class profile:
    """Record every op dispatched on this thread (and each compiled graph's nodes) between ``__enter__`` and
    ``__exit__`` (or ``start()``/``stop()``).

    ``activities``: ``[ProfilerActivity.CPU]`` (the default) and/or ``ProfilerActivity.CUDA``;
    ``record_shapes``: keep each op's input shapes (``key_averages(group_by_input_shape=True)`` and the
    trace's "Input Dims"); ``on_trace_ready(prof)`` is called when profiling stops (see
    ``tensorboard_trace_handler``). ``profile_memory``, ``with_stack``, ``with_flops`` and ``with_modules`` are
    accepted for PyTorch code and record nothing extra.
    """

    def __init__(self, activities=None, record_shapes=False, profile_memory=False, with_stack=False,
                 with_flops=False, with_modules=False, on_trace_ready=None, use_cuda=None):
        acts = set(activities) if activities is not None else {ProfilerActivity.CPU}
        bad = [a for a in acts if not isinstance(a, ProfilerActivity)]
        if bad:
            raise TypeError(f"profile(activities=...): expected ProfilerActivity members, got {bad!r}")
        if use_cuda:
            acts.add(ProfilerActivity.CUDA)
        self.activities = acts
        self.record_shapes = bool(record_shapes)
        self.on_trace_ready = on_trace_ready
        self._recorder = None
        self._prev = None
        self._events: EventList | None = None
        self.start_ns = self.end_ns = 0

    def start(self):
        if self._recorder is not None:
            raise RuntimeError("profile.start(): this profiler is already running")
        self._recorder = _Recorder(self.record_shapes, ProfilerActivity.CUDA in self.activities)
        self._prev = STATE.profiler
        self._events = None
        self.start_ns = _clock()
        STATE.profiler = self._recorder
        return self

    def stop(self):
        if self._recorder is None:
            raise RuntimeError("profile.stop(): this profiler was not started")
        STATE.profiler = self._prev
        self.end_ns = _clock()
        self._raw = self._recorder.raw
        self._recorder = None
        if self._prev is not None:  # an enclosing profiler sees what this one saw, too
            self._prev.raw.extend(self._raw)
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---------------------------------------------------------------------------------------- results
    def _finished(self):
        if self._recorder is not None:
            raise RuntimeError("the profiler is still running: read its results after the `with` block")
        if not hasattr(self, "_raw"):
            raise RuntimeError("the profiler has not run yet: use `with profile() as prof:` first")

    def __str__(self):  # torch.autograd.profiler.profile prints its events as a table
        return str(self.events()) if self._recorder is None and hasattr(self, "_raw") else repr(self)

    def events(self) -> EventList:
        """Every recorded range, in start order, with parent/children links (nesting on each thread)."""
        self._finished()
        if self._events is None:
            self._events = EventList(_nest(self._raw))
        return self._events

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        """One row per op name (and input shapes when ``group_by_input_shape``), in first-seen order."""
        rows: dict = {}
        for e in self.events():
            shapes = str(e.input_shapes or []) if group_by_input_shape else None
            key = (e.name, shapes)
            if key not in rows:
                rows[key] = FunctionEventAvg(e.name, shapes)
            rows[key].add(e)
        out = EventList(rows.values())
        out._grouped_by_shape = group_by_input_shape
        return out

    def export_chrome_trace(self, path) -> str:
        """Write the Trace Event Format JSON that Perfetto and chrome://tracing load (``.gz`` compresses)."""
        events = self.events()
        pid = os.getpid()
        trace = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": "ember"}}]
        for tid in sorted({e.tid for e in events}):
            trace.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                          "args": {"name": f"thread {tid}"}})
        for e in events:
            ev = {"ph": "X", "cat": e.cat, "name": e.name, "pid": pid, "tid": e.tid,
                  "ts": (e.start_ns - self.start_ns) / 1e3, "dur": (e.end_ns - e.start_ns) / 1e3}
            if e.input_shapes is not None:
                ev["args"] = {"Input Dims": e.input_shapes}
            trace.append(ev)
        doc = {"traceEvents": trace, "displayTimeUnit": "ms", "baseTimeNanoseconds": self.start_ns,
               "traceName": str(path)}
        path = os.fspath(path)
        tmp = f"{path}.tmp{os.getpid()}"
        opener = gzip.open if path.endswith(".gz") else open
        with opener(tmp, "wt") as f:
            json.dump(doc, f)
        os.replace(tmp, path)
        return path

    @property
    def self_cpu_time_total(self) -> float:
        return sum(e.self_cpu_time_total for e in self.events())


def _nest(raw) -> list[FunctionEvent]:
    """Events sorted by start, each linked to the innermost range that contains it on its thread."""
    events = [FunctionEvent(*r) for r in raw]
    events.sort(key=lambda e: (e.start_ns, -e.end_ns))
    stacks: dict = {}
    for e in events:
        stack = stacks.setdefault(e.tid, [])
        while stack and stack[-1].end_ns <= e.start_ns:
            stack.pop()
        if stack and e.end_ns <= stack[-1].end_ns:
            e.parent = stack[-1]
            stack[-1].children.append(e)
        stack.append(e)
    return events


class record_function:
    """A named range in the profile: ``with record_function("forward"): ...`` or ``@record_function("f")``.
    Does nothing (beyond one check) when no profiler is running."""

    def __init__(self, name: str, args=None):
        self.name = str(name)
        self.args = args
        self._start = None

    def __enter__(self):
        self._rec = STATE.profiler
        if self._rec is not None:
            self._start = _clock()
        return self

    def __exit__(self, *exc):
        if self._rec is not None:
            self._rec.add_range(self.name, self._start, _clock())
            self._rec = None
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with record_function(self.name):
                return fn(*args, **kwargs)

        return wrapped


def _record_function_enter(name: str, args=None) -> record_function:
    """Open a ``record_function`` range and return its handle (``torch.ops.profiler._record_function_enter``:
    the form a traced graph calls, as in torch.fx programs that keep profiler ranges in the graph)."""
    return record_function(name, args).__enter__()


def _record_function_exit(handle: record_function) -> None:
    """Close the range opened by ``_record_function_enter``."""
    handle.__exit__(None, None, None)


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    """An ``on_trace_ready`` that writes ``{dir_name}/{worker}.{ms}.pt.trace.json`` (PyTorch's file name)."""

    def handler(prof: profile):
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{time.time_ns() // 1_000_000}.pt.trace.json" + (".gz" if use_gzip else "")
        prof.export_chrome_trace(os.path.join(dir_name, name))

    return handler
