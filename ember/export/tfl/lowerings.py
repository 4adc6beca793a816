"""The TFLite lowering tables, derived from the op registry: each op's TFLite lowering is written beside the op
(``register_lowering(op, "tflite", fn)`` in ``ember/ops``, helpers in ``ember/ops/_tflite.py``) or marked
``unsupported(op, "tflite", reason)``. ``LOWERINGS[op]`` / ``UNSUPPORTED[op]`` are live read-only views.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...ops import REGISTRY


class _RegistryView(Mapping):
    """``{op name: pick(op)}`` over the registry's ops for which ``pick`` gives something."""

    def __init__(self, pick):
        self._pick = pick

    def __getitem__(self, name):
        op = REGISTRY.get(name)
        found = None if op is None else self._pick(op)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self):
        return (name for name, op in list(REGISTRY.items()) if self._pick(op) is not None)

    def __len__(self):
        return sum(1 for _ in self)


LOWERINGS = _RegistryView(lambda op: op.lowering("tflite"))
UNSUPPORTED = _RegistryView(lambda op: op.unsupported.get("tflite"))
