"""ember.keras: Keras 3's API on Ember's engine. Change ``import keras`` to ``from ember import keras``.

>>> import numpy as np
>>> from ember import keras
>>> model = keras.Sequential([keras.layers.Flatten(input_shape=(4, 4)),
...                            keras.layers.Dense(3, activation="softmax")])
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
>>> history = model.fit(np.random.rand(64, 4, 4), np.random.randint(0, 3, 64), epochs=1, verbose=0)
>>> sorted(history.history)
['accuracy', 'loss']
"""

from . import (  # noqa: F401
    activations,
    applications,
    backend,
    callbacks,
    config,
    constraints,
    datasets,
    distribution,
    dtype_policies,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    preprocessing,
    random,
    regularizers,
    saving,
    tree,
    utils,
)
from .dtype_policies import DTypePolicy, FloatDTypePolicy  # noqa: F401
from .initializers import Initializer  # noqa: F401
from .layers import Input, InputSpec, Layer, Variable  # noqa: F401
from .layers.base import clear_session  # noqa: F401
from .layers.symbolic import KerasTensor  # noqa: F401
from .losses import Loss  # noqa: F401
from .metrics import Metric  # noqa: F401
from .models import Model, Sequential  # noqa: F401
from .optimizers import Optimizer  # noqa: F401
from .regularizers import Regularizer  # noqa: F401
from .scopes import device, name_scope  # noqa: F401

__version__ = "3.0.0-ember"


def version() -> str:
    """Keras's ``keras.version()``: the version of this Keras API implementation."""
    return __version__
