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


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode="rows"``) or columns of a 2-D weight towards orthogonality: ``factor`` times the
    mean absolute cosine between distinct pairs of them (each pair counted once).

    >>> import ember
    >>> from ember.keras import regularizers
    >>> round(float(regularizers.OrthogonalRegularizer(1.0)(ember.tensor([[1.0, 0.0], [1.0, 1.0]]))), 4)
    0.7071
    """

    def __init__(self, factor=0.01, mode="rows"):
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 0:
            raise ValueError(f"OrthogonalRegularizer: factor must be a non-negative number, got {factor!r}")
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got {mode!r}")
        self.factor, self.mode = float(factor), mode

    def __call__(self, x):
        if x.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer: the weight must be 2-D, got shape {tuple(x.shape)}; "
                             "apply it to a Dense kernel or reshape the weight")
        vectors = x if self.mode == "rows" else x.t()
        unit = vectors / (vectors * vectors).sum(1, keepdim=True).clamp(min=1e-12).sqrt()
        cosines = (unit @ unit.t()).abs()
        n = vectors.shape[0]
        if n < 2:
            return 0.0 * cosines.sum()
        off_diagonal = cosines.sum() - cosines.diagonal().sum()  # each pair twice
        return self.factor * off_diagonal / (n * (n - 1))

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


ALL = {c.__name__: c for c in (Regularizer, L1L2, L1, L2, OrthogonalRegularizer)}
_ALIASES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}
l1, l2, l1_l2 = L1, L2, L1L2  # Keras's lower-case names (keras.regularizers.l2(1e-4)) for the same classes
orthogonal_regularizer = OrthogonalRegularizer


def serialize(regularizer):
    """The Keras config dict of ``regularizer`` (``deserialize`` reads it back)."""
    from .saving import serialize_keras_object

    return serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    """The regularizer described by ``config`` (from ``serialize``) or named by a string (``'l2'``)."""
    if isinstance(config, str) and not (custom_objects and config in custom_objects):
        return get(config)
    from .saving import deserialize_keras_object

    return deserialize_keras_object(config, {**ALL, **(custom_objects or {})})


def get(identifier):
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _ALIASES:
        return _ALIASES[identifier.lower()]()
    if isinstance(identifier, dict):
        from .saving import deserialize_keras_object

        return deserialize_keras_object(identifier)
    raise ValueError(f"unknown regularizer {identifier!r}; known: {', '.join(_ALIASES)}")
