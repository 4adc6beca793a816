"""One rule, enforced: library code changes tensor storage only through the core's in-place path.

``Tensor._inplace`` / ``Tensor._setitem`` / ``Tensor._write`` (behind ``copy_``, ``add_``, ``x[k] = v``, ...) bump
the version counter and tell a graph tracer, so ``ember.compile`` sees every write. A write to ``._data`` made
anywhere else happens behind the tracer's back and a compiled function silently computes something else (issue
10). This test reads every module of the package with ``ast`` and fails on such a write outside the core.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ember"

# the core: the only places that write storage
CORE = ("ember/tensor.py", "ember/backend.py", "ember/ops/")

# files outside the core that still write, each with its reason. Keep this list short and exact.
ALLOWED = {
    # the compiled executor's own write-back of a graph's results into the state it was traced from
    "ember/graph/writeback.py": "executor write-back (writeback._write_back)",
    # a joint trace runs the function once eagerly; the compiler restores the state it changed
    "ember/graph/autodiff.py": "the compiler's snapshot restore after a joint trace (autodiff._restore)",
}

_MUTATING_METHODS = frozenset({"fill", "sort", "put", "resize", "itemset", "setfield", "partition", "byteswap"})


def _is_data(node) -> bool:
    """``<expr>._data`` or a subscript / attribute chain rooted at one (``x._data[i]``, ``x._data.real``)."""
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        if isinstance(node, ast.Attribute) and node.attr == "_data":
            return True
        node = node.value
    return False


def _call_name(func) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _writes(tree):
    """(line, what) for every direct write to tensor storage in a module."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = list(node.targets if isinstance(node, ast.Assign) else [node.target])
            while targets:
                t = targets.pop()
                if isinstance(t, (ast.Tuple, ast.List)):
                    targets.extend(t.elts)
                elif _is_data(t):
                    yield node.lineno, "assignment to ._data"
        elif isinstance(node, ast.Call):
            name = _call_name(node.func)
            if any(k.arg == "out" and _is_data(k.value) for k in node.keywords):
                yield node.lineno, "out=<tensor>._data"
            if name in ("copyto", "COPYTO"):
                yield node.lineno, "copyto(...)"
            if name == "at" and node.args and _is_data(node.args[0]):
                yield node.lineno, "ufunc.at(<tensor>._data, ...)"
            if name in _MUTATING_METHODS and isinstance(node.func, ast.Attribute) and _is_data(node.func.value):
                yield node.lineno, f"._data.{name}(...)"
            if name == "_bump":  # a version bump outside the core marks a write made behind its back
                yield node.lineno, "._bump(...) (a hand-made write)"
            if name == "setattr" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and \
                    node.args[1].value == "_data":
                yield node.lineno, "setattr(..., '_data', ...)"


def _library_files():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith(CORE) and rel not in ALLOWED:
            yield rel, path


def test_no_storage_writes_outside_the_core():
    found = []
    for rel, path in _library_files():
        tree = ast.parse(path.read_text(), filename=rel)
        found += [f"{rel}:{line}: {what}" for line, what in _writes(tree)]
    assert not found, (
        "tensor storage written outside the core (use copy_/add_/mul_/zero_/fill_/x[k] = v under "
        "ember.no_grad(); see ember/tensor.py, in-place machinery):\n  " + "\n  ".join(found))


def test_allowed_entries_still_exist_and_still_write():
    # an entry whose file is gone or no longer writes must be deleted, so the list stays exact
    for rel in ALLOWED:
        path = ROOT / rel
        assert path.exists(), f"{rel} is in ALLOWED but does not exist any more: delete the entry"
        assert list(_writes(ast.parse(path.read_text()))), f"{rel} no longer writes ._data: delete the entry"


@pytest.mark.parametrize("source,expected", [
    ("t._data = a", 1),
    ("t._data[...] = 0", 1),
    ("t._data[i, j] += 1", 1),
    ("p.grad._data *= 2", 1),
    ("xp.clip(g._data, -1, 1, out=g._data)", 1),
    ("xp.copyto(dst, src)", 1),
    ("np.add.at(t._data, idx, v)", 1),
    ("t._data.fill(0)", 1),
    ("t._bump('x')", 1),
    ("setattr(t, '_data', a)", 1),
    ("a, t._data = 1, 2", 1),
    ("cache[id(t._data)] = 1", 0),
    ("y = t._data + 1", 0),
    ("t.copy_(v)", 0),
    ("t[0] = 1", 0),
])
def test_scanner_catches_each_kind_of_write(source, expected):
    assert len(list(_writes(ast.parse(source)))) == expected, source
