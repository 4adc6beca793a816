"""``ExportedProgram``: a traced model as one IR graph with its weights, signature and metadata.

This is what ``ember.export.export`` returns and ``ember.export.load`` reads back from a ``model.ember`` file.
It runs through the compiled executor (built on first use), so it needs neither the model's Python source nor
autograd. The contract (the serving code relies on it):

- ``prog(*tensors)`` returns Ember tensors in the structure the model returned;
- ``prog.run(list_or_dict_of_numpy) -> list of numpy`` (one array per output spec);
- ``prog.input_specs`` / ``prog.output_specs``: lists of ``TensorSpec(name, shape, dtype)``, ``None`` for a
  dynamic dim (``spec.dim_names`` gives its name, e.g. ``"batch"``);
- ``prog.metadata``: a dict (``ember_version``, ``producer``, ``created``, ``module``, ``user``);
- ``prog.graph``: the IR (printable); ``prog.state_dict()``: the weights by name.

Calls are serialized by a lock (the executor reuses preallocated buffers), so one program may be shared by
threads.

Example:
    >>> import ember
    >>> from ember import nn
    >>> prog = ember.export.export(nn.Linear(3, 2), (ember.ones(4, 3),), dynamic_batch=True)
    >>> prog.input_specs
    [TensorSpec(name='input', shape=(None, 3), dtype='float32')]
    >>> [a.shape for a in prog.run([ember.ones(7, 3).numpy()])]
    [(7, 2)]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from .._state import STATE
from ..errors import mark, with_user_line
from ..graph import opinfo


class ExportError(ValueError):
    """A model that cannot be exported, or a call to a program with inputs it does not accept."""


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a program: ``shape`` has ``None`` for dynamic dims; ``dtype`` is a name."""

    name: str
    shape: tuple
    dtype: str
    dim_names: tuple = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict:
        dims = [d if d is not None else (self.dim_names[i] if i < len(self.dim_names) else None)
                for i, d in enumerate(self.shape)]
        return {"name": self.name, "shape": dims, "dtype": self.dtype}

    @classmethod
    def from_json(cls, data) -> TensorSpec:
        dims = data["shape"]
        return cls(str(data["name"]), tuple(d if isinstance(d, int) else None for d in dims),
                   opinfo.dtype_name(data["dtype"]), tuple(d if isinstance(d, str) else None for d in dims))

    def describe(self) -> str:
        dims = ", ".join(str(d) if d is not None else (self._name(i) or "?") for i, d in enumerate(self.shape))
        return f"{self.name!r} ({self.dtype}[{dims}])"

    def _name(self, i):
        return self.dim_names[i] if i < len(self.dim_names) else None


class _Check:
    """Precomputed call-time checks of one input (cheap: a server calls them for every request)."""

    __slots__ = ("spec", "np_dtype", "ndim", "static", "named")

    def __init__(self, spec: TensorSpec):
        self.spec = spec
        self.np_dtype = opinfo.np_dtype(spec.dtype)
        self.ndim = len(spec.shape)
        self.static = [(i, d) for i, d in enumerate(spec.shape) if d is not None]
        self.named = [(i, n) for i, n in enumerate(spec.dim_names) if n is not None and spec.shape[i] is None]


class ExportedProgram:
    """A graph whose inputs are the model's tensor inputs and whose constants hold the weights."""

    def __init__(self, graph, input_specs, output_specs, in_spec=None, out_spec=None, metadata=None,
                 dim_names=None, dim_ranges=None, source=None, device="cpu"):
        self._graph = graph
        self.input_specs = list(input_specs)
        self.output_specs = list(output_specs)
        self.in_spec = in_spec  # JSON structure of the call's (args, kwargs); None = flat positional
        self.out_spec = out_spec  # JSON structure of the result; None = a list of outputs
        self.metadata = dict(metadata or {})
        self.dim_names = dict(dim_names or {})  # {Value: tuple of dim names} (dynamic dims of the IR)
        self.dim_ranges = dict(dim_ranges or {})  # {dim name: (min, max)}
        self.source = source  # the file it was loaded from, for error messages
        self.device = device
        self._checks = [_Check(s) for s in self.input_specs]
        self._exe = None
        self._lock = threading.Lock()
        self._fast_checks = None  # made on the first call (dim_ranges may be set after construction)
        self._out_tree = None  # (out_spec, its parsed form), made on the first call

    # ------------------------------------------------------------------------------------------ views
    @property
    def graph(self):
        """The IR (``print(prog.graph)``); weights are its named constants."""
        return self._graph

    def state_dict(self) -> dict:
        """``{weight name: numpy array}`` (the graph's constants, by name)."""
        return {v.hint or f"const.{i}": np.asarray(arr) for i, (v, arr) in enumerate(self._graph.constants.items())}

    def __repr__(self):
        ins = ", ".join(s.describe() for s in self.input_specs)
        outs = ", ".join(s.describe() for s in self.output_specs)
        where = f" from {self.source}" if self.source else ""
        return f"<ExportedProgram{where}: ({ins}) -> ({outs}), {len(self._graph.nodes)} nodes>"

    def module(self):
        """A callable with the model's call signature (torch.export's spelling): the program itself."""
        return self

    # ------------------------------------------------------------------------------------------ running
    def _executable(self):
        if self._exe is None:
            from ..graph.executor import build

            self._exe = build(self._graph, device=self.device, inference=True)
        return self._exe

    def warmup(self) -> ExportedProgram:
        """Build the executor and run it once on zeros (dynamic dims of size 1), so kernels compile now
        rather than on the first request. Returns the program."""
        def size(spec, i, d):
            name = spec.dim_names[i] if i < len(spec.dim_names) else None
            return d if d is not None else max(1, self.dim_ranges.get(name, (None, None))[0] or 1)

        zeros = [np.zeros([size(s, i, d) for i, d in enumerate(s.shape)], opinfo.np_dtype(s.dtype))
                 for s in self.input_specs]
        self._execute(zeros)
        return self

    def run(self, inputs) -> list:
        """Run on NumPy arrays: a list in ``input_specs`` order or a dict by input name; returns a list of
        NumPy arrays, one per ``output_specs``. Python lists/scalars are converted to the input's dtype; an
        array of another dtype is an error (convert it with ``.astype``)."""
        if (type(inputs) is list and len(inputs) == len(self._checks)
                and all(type(x) is np.ndarray for x in inputs)):  # a server's request: nothing to convert
            outs = self._execute(inputs)
        else:
            outs = self._execute(self._arrays_from(inputs))
        if self.device != "cpu":
            outs = [a.get() for a in outs]  # CuPy results come back to the host
        return outs

    def __call__(self, *args, **kwargs):
        from ..graph.capture import unflatten
        from ..tensor import Tensor

        if (not kwargs and len(args) == len(self._checks) and self.device == "cpu" and STATE.tracer is None
                and all(type(a) is Tensor and type(a._data) is np.ndarray for a in args)):
            arrays = [a._data for a in args]  # plain CPU tensors in call order (read only: nothing is donated)
        else:
            arrays = self._arrays_from_call(args, kwargs)
        outs = self._execute(arrays)
        tensors = [Tensor._wrap(a) for a in outs]
        if self.out_spec is None:
            return tensors
        if self._out_tree is None or self._out_tree[0] is not self.out_spec:
            self._out_tree = (self.out_spec, _spec_from_json(self.out_spec))
        return unflatten(self._out_tree[1], iter(tensors))

    def _execute(self, arrays):
        if not self._passes(arrays):
            self._check(arrays)  # raises the error that says what is wrong
        if self.device != "cpu":
            from .. import backend

            xp = backend.require_cupy("running a program on CUDA")
            arrays = [xp.asarray(a) for a in arrays]
        with self._lock:
            return (self._exe or self._executable())(*arrays)

    # ------------------------------------------------------------------------------------------ input checks
    def _arrays_from(self, inputs) -> list:
        if isinstance(inputs, dict):
            names = [s.name for s in self.input_specs]
            missing = [n for n in names if n not in inputs]
            extra = [k for k in inputs if k not in names]
            if missing or extra:
                raise self._error(
                    f"expects inputs named {names}"
                    + (f"; missing {missing}" if missing else "")
                    + (f"; unknown {extra}" if extra else "")
                )
            inputs = [inputs[n] for n in names]
        elif isinstance(inputs, np.ndarray) and len(self.input_specs) == 1:
            inputs = [inputs]
        elif not isinstance(inputs, (list, tuple)):
            raise self._error(f"run() takes a list or a dict of arrays, got {type(inputs).__name__}")
        if len(inputs) != len(self.input_specs):
            raise self._error(f"expects {len(self.input_specs)} input(s) "
                              f"[{', '.join(s.describe() for s in self.input_specs)}], got {len(inputs)}")
        return [self._as_array(x, c) for x, c in zip(inputs, self._checks)]

    def _as_array(self, x, check: _Check):
        if type(x) is np.ndarray:  # the server's case: nothing to convert
            return x
        if hasattr(x, "_data") and hasattr(x, "requires_grad"):  # an Ember tensor
            x = x.detach().cpu().numpy() if self.device == "cpu" else x._data
        if isinstance(x, np.ndarray) or hasattr(x, "__cuda_array_interface__"):
            return x
        try:
            return np.asarray(x, dtype=check.np_dtype)
        except (TypeError, ValueError) as exc:
            raise self._error(f"input {check.spec.describe()}: cannot convert {type(x).__name__} to "
                              f"{check.spec.dtype}: {exc}") from None

    def _arrays_from_call(self, args, kwargs) -> list:
        from ..graph.capture import flatten

        leaves: list = []
        spec = flatten((tuple(args), dict(kwargs)), leaves, _is_array_leaf)
        if len(leaves) != len(self.input_specs):
            raise self._error(f"expects {len(self.input_specs)} tensor input(s) "
                              f"[{', '.join(s.describe() for s in self.input_specs)}], got {len(leaves)}")
        flat_call = not kwargs and len(args) == len(self.input_specs)
        if self.in_spec is not None and not flat_call and _spec_to_json(spec) != self.in_spec:
            raise self._error(f"was exported for a call like {_call_text(self.in_spec)}; got "
                              f"{_call_text(_spec_to_json(spec))} (T: a tensor)")
        return [self._as_array(x, c) for x, c in zip(leaves, self._checks)]

    def _passes(self, arrays) -> bool:
        """The common case of ``_check`` in a few comparisons per input: dtypes and static dims as exported,
        and no named dim that two inputs share or that has a range (those take ``_check``)."""
        fast = self._fast_checks
        if fast is None:
            names = [n for c in self._checks for _, n in c.named]
            simple = len(set(names)) == len(names) and not any(n in self.dim_ranges for n in names)
            fast = self._fast_checks = (simple, [(c.np_dtype, c.ndim, c.static) for c in self._checks])
        if not fast[0]:
            return False
        for a, (dtype, ndim, static) in zip(arrays, fast[1]):
            if a.dtype is not dtype and a.dtype != dtype:
                return False
            shape = a.shape
            if len(shape) != ndim:
                return False
            for i, d in static:
                if shape[i] != d:
                    return False
        return True

    def _check(self, arrays) -> None:
        seen: dict = {}
        for a, c in zip(arrays, self._checks):
            if a.dtype != c.np_dtype:
                raise self._error(
                    f"input {c.spec.describe()} got dtype {a.dtype}; convert it with .astype({c.spec.dtype!r})"
                )
            shape = a.shape
            if len(shape) != c.ndim or any(shape[i] != d for i, d in c.static):
                raise self._error(f"input {c.spec.describe()} got shape {tuple(shape)}")
            for i, name in c.named:
                size = shape[i]
                first = seen.setdefault(name, (size, c.spec.name))
                if first[0] != size:
                    raise self._error(f"dim {name!r} is {first[0]} in input {first[1]!r} but {size} in input "
                                      f"{c.spec.name!r}; inputs sharing a dynamic dim must agree")
                lo, hi = self.dim_ranges.get(name, (None, None))
                if (lo is not None and size < lo) or (hi is not None and size > hi):
                    raise self._error(f"dim {name!r} of input {c.spec.name!r} is {size}, outside its range "
                                      f"[{lo}, {hi}] given at export")

    def _error(self, msg: str) -> ExportError:
        where = f"program loaded from {self.source}" if self.source else "exported program"
        return mark(with_user_line(ExportError(f"{where}: {msg}"), 3))


def _is_array_leaf(obj) -> bool:
    from ..graph.capture import is_tensor

    return is_tensor(obj) or isinstance(obj, np.ndarray) or hasattr(obj, "__cuda_array_interface__")


# ------------------------------------------------------------------------------ call structure as JSON
def _spec_to_json(spec):
    """capture.flatten's structure spec as JSON data (containers, leaves, plain static values)."""
    from ..graph.serialize import encode_attr

    kind = spec[0]
    if kind == "leaf":
        return "leaf"
    if kind == "static":
        return {"static": encode_attr(spec[1], "a non-tensor argument or result")}
    if kind is dict:
        return {"dict": [[k, _spec_to_json(s)] for k, s in spec[1]]}
    return {"list" if kind is list else "tuple": [_spec_to_json(s) for s in spec[1]]}


def _spec_from_json(data):
    from ..graph.serialize import SerializeError, decode_attr

    if data == "leaf":
        return ("leaf",)
    if isinstance(data, dict) and len(data) == 1:
        (kind, body), = data.items()
        if kind == "static":
            return ("static", decode_attr(body, "a static value"))
        if kind == "dict" and isinstance(body, list):
            return (dict, tuple((k, _spec_from_json(s)) for k, s in body))
        if kind in ("list", "tuple") and isinstance(body, list):
            return (list if kind == "list" else tuple, tuple(_spec_from_json(s) for s in body))
    raise SerializeError(f"bad call structure {data!r}")


def _call_text(data) -> str:
    """``f(T, [T, T], k=T)`` for the JSON structure of (args, kwargs)."""
    try:
        args, kwargs = data["tuple"]
        parts = [_spec_text(a) for a in args["tuple"]] + [f"{k}={_spec_text(v)}" for k, v in kwargs["dict"]]
        return "f(" + ", ".join(parts) + ")"
    except (KeyError, TypeError, ValueError):
        return _spec_text(data)


def _spec_text(data) -> str:
    if data == "leaf":
        return "T"
    if isinstance(data, dict) and "static" in data:
        return repr(data["static"])
    if isinstance(data, dict) and "dict" in data:
        return "{" + ", ".join(f"{k!r}: {_spec_text(s)}" for k, s in data["dict"]) + "}"
    if isinstance(data, dict) and "list" in data:
        return "[" + ", ".join(_spec_text(s) for s in data["list"]) + "]"
    if isinstance(data, dict) and "tuple" in data:
        return "(" + ", ".join(_spec_text(s) for s in data["tuple"]) + ")"
    return repr(data)
