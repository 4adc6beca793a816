"""Utilities around the tensor engine: ``ember.utils.data`` (datasets, samplers, DataLoader) and
``ember.utils.download`` (cached, checksummed downloads shared by ``ember.vision`` and Keras)."""
from . import data, download

__all__ = ["data", "download"]
