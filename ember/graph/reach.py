"""What state a function can reach: modules (parameters, buffers), optimizers (params, per-param state).

Found through the function itself (a Module, a bound method's ``self``), its closure cells, the globals its
code names, its defaults and its arguments, and one level of attributes of the objects found.
"""

from __future__ import annotations

import types


def _is_tensor(obj) -> bool:
    from ..tensor import Tensor

    return isinstance(obj, Tensor)


def _is_module(obj) -> bool:
    return callable(getattr(obj, "parameters", None)) and callable(getattr(obj, "named_buffers", None))


def _is_optimizer(obj) -> bool:
    return hasattr(obj, "param_groups") and hasattr(obj, "state") and callable(getattr(obj, "step", None))


class Reach:
    """Modules, optimizers and loose tensors reachable from a function and its arguments."""

    def __init__(self):
        self.modules: list = []
        self.optimizers: list = []
        self.tensors: list = []
        self._seen: set = set()

    def visit(self, obj, depth: int = 2) -> None:
        if obj is None or id(obj) in self._seen or isinstance(obj, (str, bytes, int, float, bool, type)):
            return
        self._seen.add(id(obj))
        if _is_tensor(obj):
            self.tensors.append(obj)
        elif _is_module(obj):
            self.modules.append(obj)
            self._visit_attrs(obj, depth)
        elif _is_optimizer(obj):
            self.optimizers.append(obj)
        elif isinstance(obj, (list, tuple, set, frozenset)) and depth > 0:
            for x in list(obj)[:256]:
                self.visit(x, depth - 1)
        elif isinstance(obj, dict) and depth > 0:
            for x in list(obj.values())[:256]:
                self.visit(x, depth - 1)
        elif isinstance(obj, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)) or callable(
            obj
        ):
            self.visit_function(obj, depth)
        elif depth > 0 and hasattr(obj, "__dict__") and not isinstance(obj, types.ModuleType):
            self._visit_attrs(obj, depth)

    def _visit_attrs(self, obj, depth):
        if depth <= 0:
            return
        for x in list(vars(obj).values())[:256]:
            if not isinstance(x, types.ModuleType):
                self.visit(x, depth - 1)

    def visit_function(self, fn, depth: int = 2) -> None:
        if isinstance(fn, types.MethodType):
            self.visit(fn.__self__, depth)
            fn = fn.__func__
        if not isinstance(fn, types.FunctionType):
            if hasattr(fn, "__dict__") and depth > 0:
                self._visit_attrs(fn, depth)
            call = vars(type(fn)).get("__call__")
            if (
                isinstance(call, types.FunctionType)
                and call.__module__
                and not call.__module__.startswith("ember")
            ):
                self.visit_function(call, depth - 1)
            return
        for cell in fn.__closure__ or ():
            try:
                self.visit(cell.cell_contents, depth)
            except ValueError:  # an empty cell
                pass
        g = fn.__globals__
        for name in fn.__code__.co_names:
            if name in g:
                obj = g[name]
                if not isinstance(obj, (types.ModuleType, type)) and not _builtin_function(obj):
                    self.visit(obj, depth - 1 if isinstance(obj, types.FunctionType) else depth)
        for d in fn.__defaults__ or ():
            self.visit(d, depth)

    # ------------------------------------------------------------------------------ results
    def all_modules(self) -> list:
        out, seen = [], set()
        for m in self.modules:
            for sub in m.modules() if callable(getattr(m, "modules", None)) else [m]:
                if id(sub) not in seen:
                    seen.add(id(sub))
                    out.append(sub)
        return out

    def parameters(self) -> list:
        """Parameters of reachable modules and optimizers (deduplicated, stable order)."""
        out, seen = [], set()
        for m in self.modules:
            for p in m.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
        for opt in self.optimizers:
            for group in opt.param_groups:
                for p in group["params"]:
                    if id(p) not in seen:
                        seen.add(id(p))
                        out.append(p)
        return out

    def state_tensors(self) -> list:
        """Parameters, module buffers, optimizer state and tensor hyper-parameters, and loose tensors."""
        out = list(self.parameters())
        for m in self.modules:
            out.extend(b for _, b in m.named_buffers() if b is not None)
        for opt in self.optimizers:
            for st in opt.state.values():
                if isinstance(st, dict):
                    out.extend(v for v in st.values() if _is_tensor(v))
            for group in opt.param_groups:  # hyper-parameters given as tensors (lr=ember.tensor(0.1)): inputs
                out.extend(v for k, v in group.items() if k != "params" and _is_tensor(v))
        out.extend(self.tensors)
        return out

    def scalars(self) -> tuple:
        """Python numbers in optimizer param groups (learning rates...): a change must retrace.

        Read on every compiled call: the exact-type test first (a step's groups hold a dozen plain floats,
        bools and None), isinstance only for the rest."""
        vals = []
        for opt in self.optimizers:
            for group in opt.param_groups:
                vals.append(tuple([(k, v) for k, v in group.items() if _number(v) or _numbers(v)]))
            for st in opt.state.values():
                if isinstance(st, dict):
                    vals.append(tuple([(k, v) for k, v in st.items() if _number(v)]))
        return tuple(vals)


_PLAIN = frozenset((int, float, bool))
_NOT_NUMBER = frozenset((type(None), str, list, dict, tuple))


def _number(v) -> bool:
    """A Python number, or one of a subclass (NumPy's float64...); the exact-type tests first."""
    return type(v) in _PLAIN or (type(v) not in _NOT_NUMBER and isinstance(v, (int, float)))


def _numbers(v) -> bool:
    """A tuple of numbers (Adam's betas)."""
    return type(v) is tuple and all(isinstance(x, (int, float)) for x in v)


def _builtin_function(obj) -> bool:
    return isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType))


def reach(fn, args=(), kwargs=None) -> Reach:
    r = Reach()
    r.visit(fn)
    for a in list(args) + list((kwargs or {}).values()):
        if not _is_tensor(a):
            r.visit(a, 1)
    return r
