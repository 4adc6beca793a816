"""``keras.name_scope`` and ``keras.device``: Keras 3's scopes over Ember.

>>> from ember import keras
>>> with keras.name_scope("encoder"):
...     layer = keras.layers.Dense(2, name="dense")
...     layer.build((None, 3))
>>> layer.kernel.path
'encoder/dense/kernel'
>>> with keras.device("cpu"):
...     str(keras.ops.zeros(2).device)
'cpu'
"""

from __future__ import annotations

import ember

_SCOPES: list[tuple] = []  # the open name scopes as (name, caller), outermost first


class name_scope:
    """Prefix the ``path`` of variables created inside with ``name/`` (nested scopes join with ``/``); with
    ``deduplicate`` (Keras's default) a scope opened by the same ``caller`` under the same name as the one it
    sits in adds nothing (a layer's nested calls do not repeat its name)."""

    def __init__(self, name, caller=None, deduplicate=True, override_parent=None):
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"keras.name_scope: name must be a non-empty string without '/', got {name!r}")
        self.name, self.caller, self.deduplicate = name, caller, deduplicate
        self.override_parent = override_parent
        self._saved = None

    def __enter__(self):
        self._saved = list(_SCOPES)
        if self.override_parent is not None:
            _SCOPES[:] = [(p, None) for p in str(self.override_parent).split("/") if p]
        repeat = bool(_SCOPES) and self.caller is not None and _SCOPES[-1][1] is self.caller \
            and _SCOPES[-1][0] == self.name
        if not (self.deduplicate and repeat):
            _SCOPES.append((self.name, self.caller))
        return self

    def __exit__(self, *exc):
        _SCOPES[:] = self._saved
        return False


def current_path() -> str:
    """The open scopes as a path prefix (``'a/b/'``), or ``''`` outside any scope."""
    return "".join(f"{name}/" for name, _ in _SCOPES)


def device(device_name):
    """``with keras.device('cpu'):`` / ``'gpu'`` / ``'gpu:1'`` / ``'cuda:0'``: tensors and weights created inside
    go to that device (Ember's ``with ember.device(...)``)."""
    name = str(device_name).lower()
    kind, _, index = name.partition(":")
    if kind == "gpu":
        kind = "cuda"
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"keras.device: unknown device {device_name!r}; use 'cpu', 'gpu', 'gpu:N' or 'cuda:N'")
    return ember.device(kind if not index else f"{kind}:{int(index)}")
