"""``keras.dtype_policies``: the dtype policy classes and their (de)serialization (Keras 3's names).

>>> from ember import keras
>>> policy = keras.dtype_policies.get("mixed_float16")
>>> policy.compute_dtype, policy.variable_dtype
('float16', 'float32')
>>> keras.dtype_policies.serialize(policy)["config"]
{'name': 'mixed_float16'}
"""
from __future__ import annotations

from .mixed_precision import DTypePolicy, policy_of

FloatDTypePolicy = DTypePolicy  # Keras 3.0's name for the same float policy

__all__ = ["DTypePolicy", "FloatDTypePolicy", "get", "serialize", "deserialize"]


def get(identifier):
    """A policy from a name (``"mixed_bfloat16"``), a serialized config or a policy (``None``: the global one)."""
    return policy_of(identifier)


def serialize(policy) -> dict:
    """Keras's config of ``policy``: ``{"module": "keras", "class_name": "DTypePolicy", "config": {"name": ...}}``."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": policy.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """The policy of a config written by ``serialize`` (or by Keras)."""
    if not isinstance(config, dict) or "config" not in config:
        raise ValueError(f"keras.dtype_policies.deserialize: expected a serialized DTypePolicy, got {config!r}")
    return DTypePolicy.from_config(config["config"])
