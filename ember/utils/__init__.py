"""Utilities around the tensor engine: ``ember.utils.data`` (datasets, samplers, DataLoader),
``ember.utils.checkpoint`` (activation checkpointing), ``ember.utils.dlpack`` (zero-copy exchange with other
array libraries) and ``ember.utils.download`` (cached, checksummed downloads shared by ``ember.vision`` and
Keras)."""
from . import checkpoint, data, dlpack, download

__all__ = ["checkpoint", "data", "dlpack", "download"]
