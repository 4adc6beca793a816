"""``nn.utils.skip_init``: a module built without running its initialisation, as far as Ember can.

PyTorch builds the module on its meta device and allocates uninitialised storage. Ember has no meta device,
so the module is built as usual: its values are unspecified by contract and happen to be the usual initial
ones. Code that overwrites them (loading a checkpoint) behaves the same either way.

>>> from ember import nn
>>> nn.utils.skip_init(nn.Linear, 4, 2).weight.shape
ember.Size([2, 4])
"""
from __future__ import annotations

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)``, whose parameter values the caller will overwrite."""
    return module_cls(*args, **kwargs)
