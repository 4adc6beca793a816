"""``keras.utils.Config``: a dict whose keys are also attributes, which can be frozen.

>>> from ember.keras.utils import Config
>>> config = Config(learning_rate=0.1, layers=[64, 64])
>>> config.batch_size = 32
>>> config.learning_rate, config["batch_size"]
(0.1, 32)
>>> config.freeze()
>>> config.learning_rate = 1.0
Traceback (most recent call last):
...
ValueError: Config is frozen: cannot set 'learning_rate' (call config.unfreeze() first)
"""

from __future__ import annotations

import json


class Config:
    """Keys as attributes (``config.lr``) and items (``config["lr"]``); ``freeze()`` makes it read-only."""

    __slots__ = ("_values", "_frozen")

    def __init__(self, **kwargs):
        object.__setattr__(self, "_values", dict(kwargs))
        object.__setattr__(self, "_frozen", False)

    @property
    def frozen(self) -> bool:
        return self._frozen

    def freeze(self) -> None:
        object.__setattr__(self, "_frozen", True)

    def unfreeze(self) -> None:
        object.__setattr__(self, "_frozen", False)

    def _check_mutable(self, what):
        if self._frozen:
            raise ValueError(f"Config is frozen: cannot {what} (call config.unfreeze() first)")

    def __getattr__(self, name):
        if name.startswith("__"):  # copy/pickle protocol probes are not keys
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"Config has no key {name!r}; its keys: {sorted(self._values)}") from None

    def __setattr__(self, name, value):
        self._check_mutable(f"set {name!r}")
        self._values[name] = value

    def __delattr__(self, name):
        self._check_mutable(f"delete {name!r}")
        if name not in self._values:
            raise AttributeError(f"Config has no key {name!r}")
        del self._values[name]

    def __getitem__(self, key):
        return self._values[key]

    def __setitem__(self, key, value):
        self._check_mutable(f"set {key!r}")
        self._values[key] = value

    def __delitem__(self, key):
        self._check_mutable(f"delete {key!r}")
        del self._values[key]

    def __contains__(self, key):
        return key in self._values

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return f"<Config {self._values!r}>"

    def __copy__(self):
        twin = Config(**self._values)
        object.__setattr__(twin, "_frozen", self._frozen)
        return twin

    def __deepcopy__(self, memo):
        import copy

        twin = Config(**copy.deepcopy(self._values, memo))
        object.__setattr__(twin, "_frozen", self._frozen)
        return twin

    def get(self, key, default=None):
        return self._values.get(key, default)

    def keys(self):
        return self._values.keys()

    def values(self):
        return self._values.values()

    def items(self):
        return self._values.items()

    def pop(self, *args):
        self._check_mutable(f"pop {args[0]!r}" if args else "pop")
        return self._values.pop(*args)

    def update(self, *args, **kwargs):
        self._check_mutable("update")
        self._values.update(*args, **kwargs)

    def as_dict(self) -> dict:
        return dict(self._values)

    def to_json(self) -> str:
        return json.dumps(self._values)
