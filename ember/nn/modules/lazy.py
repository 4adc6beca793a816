"""Lazy modules (torch.nn.modules.lazy): parameters whose shapes come from the first input.

A lazy module holds ``UninitializedParameter`` / ``UninitializedBuffer`` objects until its first call, which
materializes them in place (so an optimizer built before the call updates them), initialises them as the
plain layer does and turns the module into that layer (``LazyLinear`` becomes ``Linear``). As in PyTorch, move
the model to its dtype and device before that first call (a dry run), and note that lazy weights are drawn
from the generator at the first call, after the weights of eager layers.

>>> import ember
>>> from ember import nn
>>> layer = nn.LazyLinear(3)
>>> layer
LazyLinear(in_features=0, out_features=3, bias=True)
>>> _ = layer(ember.randn(2, 5))
>>> layer
Linear(in_features=5, out_features=3, bias=True)
"""
from __future__ import annotations

from ...errors import mark, with_user_line

__all__ = ["LazyModuleMixin"]


class LazyModuleMixin:
    """Mixed in before a layer class: the first ``forward`` calls ``initialize_parameters(*inputs)`` and
    then the module becomes ``cls_to_become``."""

    cls_to_become = None

    def has_uninitialized_params(self):
        """Whether a parameter or buffer of this module still waits for its shape."""
        tensors = list(self._parameters.values()) + list(self._buffers.values())
        return any(getattr(t, "_uninitialized", False) for t in tensors)

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define initialize_parameters")

    def forward(self, *args, **kwargs):
        self.initialize_parameters(*args, **kwargs)
        if self.has_uninitialized_params():
            raise mark(with_user_line(RuntimeError(
                f"{type(self).__name__}: initialize_parameters left parameters uninitialized"), 2))
        if self.cls_to_become is None:
            return super().forward(*args, **kwargs)
        self.__class__ = self.cls_to_become
        return self.forward(*args, **kwargs)

    def _lazy_reset_ready(self, size):
        """Whether ``reset_parameters`` may run: every tensor materialized and the inferred size known."""
        return not self.has_uninitialized_params() and size != 0


def input_channels(module, input, nd, batched_dim=1):
    """The channel count of an (N, C, *spatial) or unbatched (C, *spatial) input, with a clear error."""
    if input.ndim not in (nd + 1, nd + 2):
        raise mark(with_user_line(ValueError(
            f"{type(module).__name__}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, got "
            f"shape {tuple(input.shape)}"), 4))
    return input.shape[batched_dim] if input.ndim == nd + 2 else input.shape[0]
