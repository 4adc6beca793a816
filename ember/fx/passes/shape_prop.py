"""``ShapeProp``: run a GraphModule once on example inputs and record each node's tensor shape and dtype.

After ``ShapeProp(gm).propagate(*inputs)`` every node whose value is a tensor has
``node.meta["tensor_meta"]`` (a ``TensorMetadata``: shape, dtype, requires_grad, stride, ...) and every node
``node.meta["type"]`` (``torch.fx.passes.shape_prop``). Tuples/lists of tensors get a matching structure.

>>> import ember
>>> from ember import fx, nn
>>> from ember.fx.passes.shape_prop import ShapeProp
>>> gm = fx.symbolic_trace(nn.Sequential(nn.Linear(4, 3), nn.ReLU()))
>>> _ = ShapeProp(gm).propagate(ember.randn(2, 4))
>>> [(n.name, tuple(n.meta["tensor_meta"].shape)) for n in gm.graph.nodes if n.op != "output"]
[('input_1', (2, 4)), ('_0', (2, 3)), ('_1', (2, 3))]
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ...tensor import Tensor
from ..interpreter import Interpreter
from ..node import Node, map_aggregate


class TensorMetadata(NamedTuple):
    """What ShapeProp records about one tensor value."""

    shape: Any
    dtype: Any
    requires_grad: bool
    stride: tuple
    memory_format: Any
    is_quantized: bool
    qparams: dict


def _extract(t: Tensor) -> TensorMetadata:
    return TensorMetadata(t.shape, t.dtype, t.requires_grad, tuple(t.stride()), None, False, {})


class ShapeProp(Interpreter):
    """An Interpreter that stores ``tensor_meta`` and ``type`` in each node's ``meta`` as it runs."""

    def run_node(self, n: Node) -> Any:
        result = super().run_node(n)
        found = []

        def meta(v):
            if isinstance(v, Tensor):
                found.append(True)
                return _extract(v)
            return v
        tm = map_aggregate(result, meta)
        if found:
            n.meta["tensor_meta"] = tm
        n.meta["type"] = type(result)
        return result

    def propagate(self, *args) -> Any:
        """Run the module on ``args`` (real tensors), annotating every node; returns the output."""
        return super().run(*args)
