"""Weight regularizers (``kernel_regularizer=keras.regularizers.L2(1e-4)`` or ``'l2'``): their value is
added to the training loss.

>>> import ember
>>> from ember.keras import regularizers
>>> float(regularizers.L2(0.5)(ember.tensor([1.0, 2.0])))
2.5
"""

from __future__ import annotations


class Regularizer:
    def __call__(self, x):
        return 0.0

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        out = 0.0
        if self.l1:
            out = out + self.l1 * x.abs().sum()
        if self.l2:
            out = out + self.l2 * (x * x).sum()
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


ALL = {c.__name__: c for c in (Regularizer, L1L2, L1, L2)}
_ALIASES = {"l1": L1, "l2": L2, "l1_l2": L1L2}
l1, l2, l1_l2 = L1, L2, L1L2  # Keras's lower-case names (keras.regularizers.l2(1e-4)) for the same classes


def get(identifier):
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _ALIASES:
        return _ALIASES[identifier.lower()]()
    if isinstance(identifier, dict):
        from .saving import deserialize_keras_object

        return deserialize_keras_object(identifier)
    raise ValueError(f"unknown regularizer {identifier!r}; known: {', '.join(_ALIASES)}")
