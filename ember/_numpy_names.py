"""NumPy-style keyword aliases, the way torch accepts them: ``axis=`` for ``dim=`` and ``keepdims=`` for ``keepdim=``.

torch's argument parser gives every *native* function that takes ``dim`` those aliases (``torch.sum(x, axis=1,
keepdims=True)``, ``x.argmax(axis=-1)``, ``torch.stack(ts, axis=1)``), while the functions torch writes in Python
(``split``, ``norm``, ``unique``, ``Tensor.unflatten``, ``F.softmax``) and those whose argument is ``dims``
(``flip``, ``roll``) refuse them. ``install`` applies that one rule to a namespace: each public function with a
``dim`` parameter is wrapped, except the Python-level ones in ``PYTHON_LEVEL``. Called once for the functional
modules and once for ``Tensor`` (``ember/functional/__init__.py``).

>>> import ember
>>> ember.sum(ember.ones(2, 3), axis=1, keepdims=True).shape
ember.Size([2, 1])
"""
from __future__ import annotations

import functools
import inspect

ALIASES = {"axis": "dim", "keepdims": "keepdim"}
# functions torch implements in Python (no parser, so no aliases): module-level names and Tensor methods
PYTHON_LEVEL = {"split", "norm", "unique", "unique_consecutive", "stft", "istft", "tensordot"}
PYTHON_LEVEL_METHODS = PYTHON_LEVEL | {"unflatten"}


def accept_numpy_names(fn):
    """``fn`` also accepting ``axis``/``keepdims`` for its ``dim``/``keepdim`` (giving both is a TypeError)."""
    if getattr(fn, "_numpy_names", False):
        return fn
    params = _parameters(fn)
    renames = {a: d for a, d in ALIASES.items() if d in params}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs and not kwargs.keys().isdisjoint(renames):
            for alias, name in renames.items():
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {name!r} and its alias {alias!r}; pass one")
                    kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    wrapper._numpy_names = True
    return wrapper


def _parameters(fn):
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}


def takes_dim(fn) -> bool:
    return callable(fn) and not isinstance(fn, type) and "dim" in _parameters(fn)


def install(namespace, names, skip) -> list[str]:
    """Wrap ``namespace.<name>`` (a module or a class) for each of ``names`` that takes ``dim`` and is not in
    ``skip``; returns the names wrapped."""
    done = []
    for name in names:
        if name.startswith("_") or name in skip:
            continue
        fn = getattr(namespace, name, None)
        if isinstance(namespace, type):
            fn = namespace.__dict__.get(name, fn)  # the plain function, not a bound/unbound lookup
        if isinstance(fn, (staticmethod, classmethod, property)) or not takes_dim(fn):
            continue
        setattr(namespace, name, accept_numpy_names(fn))
        done.append(name)
    return done
