"""The docstring examples of every ``ember`` module run here (one test per module that has any), so an example
that stops matching the code fails CI. A module whose examples need something this machine may lack is listed
in ``NEEDS`` and skipped with the reason when it is absent (never silently). As in PyTorch's docs, an example
may use ``ember`` and ``F`` (``ember.nn.functional``) without importing them; a module's own names come first.
"""
from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import ember
import ember.nn.functional

ROOT = Path(__file__).resolve().parents[1]


def _ort_web_present() -> bool:
    from ember.export.browser import find_ort_dist

    try:
        find_ort_dist()
        return True
    except Exception:
        return False


# module -> (check, reason shown when the check fails)
NEEDS = {
    "ember.export.browser": (_ort_web_present, "onnxruntime-web's files are absent (run `npm ci`)"),
}


def _modules_with_examples():
    for path in sorted((ROOT / "ember").rglob("*.py")):
        if ">>>" in path.read_text():
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = list(_modules_with_examples())


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    check, reason = NEEDS.get(name, (None, ""))
    if check is not None and not check():
        pytest.skip(reason)
    module = importlib.import_module(name)
    globs = {"ember": ember, "F": ember.nn.functional, **vars(module)}
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name, globs=globs) if t.examples]
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    if result.attempted == 0:
        pytest.skip("every example is marked +SKIP in its docstring (e.g. needs several MPI ranks)")
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} failed " \
                               "(the report above shows which)"
