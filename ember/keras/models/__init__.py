"""``keras.models``: Model, Sequential, load_model, save_model, clone_model, model_from_json."""

from ..keras_json import model_from_json  # noqa: F401
from ..saving import load_model, save_model  # noqa: F401
from .model import Functional, Model  # noqa: F401
from .sequential import Sequential  # noqa: F401


def clone_model(model):
    """A new model with the same architecture and freshly initialised weights."""
    from ..saving import deserialize_keras_object, serialize_keras_object

    return deserialize_keras_object(serialize_keras_object(model))
