"""Utilities around the tensor engine: ``ember.utils.data`` (datasets, samplers, DataLoader),
``ember.utils.checkpoint`` (activation checkpointing) and ``ember.utils.download`` (cached, checksummed
downloads shared by ``ember.vision`` and Keras)."""
from . import checkpoint, data, download

__all__ = ["checkpoint", "data", "download"]
