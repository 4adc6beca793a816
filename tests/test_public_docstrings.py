"""Every public torch-named function has a docstring with a runnable example: one row per callable of
``ember.functional``'s public namespace (what ``ember.<name>`` exports) and of ``ember.nn.functional``, taken
from the modules' ``__all__`` (aliases of one object are one row). A row fails, naming the function, when the
docstring is missing, has no ``>>>`` example, or its example is not among those ``tests/test_doctests.py`` runs.
"""
from __future__ import annotations

import doctest
import functools
import importlib
import inspect

import pytest
from test_doctests import MODULES

import ember
import ember.functional
import ember.nn.functional

NAMESPACES = {"ember": ember.functional, "ember.nn.functional": ember.nn.functional}


def _rows():
    """(qualified public name, object) once per distinct object; an alias is named by the object's own name."""
    rows, seen = {}, set()
    for prefix, namespace in NAMESPACES.items():
        objects = {}
        for name in namespace.__all__:
            obj = getattr(namespace, name)
            if callable(obj) and id(obj) not in seen:  # e.g. nn.functional.pad is ember.pad: one row
                objects.setdefault(id(obj), []).append(name)
        seen.update(objects)
        for names in objects.values():
            obj = getattr(namespace, names[0])
            name = obj.__name__ if obj.__name__ in names else names[0]
            rows[f"{prefix}.{name}"] = obj
    return rows


ROWS = _rows()


def _home(obj):
    """The module that defines ``obj`` (through decorators such as autocast's wrapper)."""
    return importlib.import_module(inspect.unwrap(obj).__module__)


@functools.cache
def _objects_with_run_examples(module):
    """ids of the module-level objects whose docstring examples test_doctests collects for ``module``."""
    if module.__name__ not in MODULES:
        return set()
    found = doctest.DocTestFinder(exclude_empty=True).find(module, module.__name__)
    prefix = module.__name__ + "."
    names = {t.name[len(prefix):] for t in found if t.examples and t.name.startswith(prefix)}
    return {id(getattr(module, n)) for n in names if "." not in n and hasattr(module, n)}


def test_the_table_covers_both_namespaces():
    # a guard against an empty or collapsed table (e.g. __all__ lost): both namespaces are large
    assert sum(r.startswith("ember.nn.functional.") for r in ROWS) >= 70
    assert sum(not r.startswith("ember.nn.functional.") for r in ROWS) >= 150


@pytest.mark.parametrize("name", sorted(ROWS))
def test_public_function_has_docstring_with_example(name):
    obj = ROWS[name]
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{name} has no docstring"
    assert ">>>" in doc, f"{name}'s docstring has no >>> example"
    module = _home(obj)
    assert id(obj) in _objects_with_run_examples(module), (
        f"{name}'s example is not collected by tests/test_doctests.py (defined in {module.__name__}; the doctest "
        "finder must see it as that module's own object)")
