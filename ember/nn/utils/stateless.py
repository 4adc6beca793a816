"""``nn.utils.stateless``: ``functional_call`` under its older address (the same function as
``ember.func.functional_call``).

>>> import ember
>>> from ember import nn
>>> layer = nn.Linear(2, 1, bias=False)
>>> nn.utils.stateless.functional_call(layer, {"weight": ember.ones(1, 2)}, (ember.ones(1, 2),))
tensor([[2.]])
"""
from __future__ import annotations

from ...func import functional_call

__all__ = ["functional_call"]
