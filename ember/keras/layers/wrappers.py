"""``TorchModuleWrapper``: use an ``ember.nn.Module`` (PyTorch-style) inside a Keras model; its parameters
become the layer's trainable weights.

>>> from ember import keras
>>> class Twice:  # any object with parameters() and __call__ works, e.g. an ember.nn.Module
...     def parameters(self): return iter([])
...     def __call__(self, x): return x * 2
>>> keras.layers.TorchModuleWrapper(Twice())(keras.ops.ones((1, 2))).tolist()
[[2.0, 2.0]]
"""

from __future__ import annotations

from .base import Layer


class TorchModuleWrapper(Layer):
    def __init__(self, module, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        object.__setattr__(self, "module", module)
        self._adopt()

    def _adopt(self):
        named = getattr(self.module, "named_parameters", None)
        pairs = (
            list(named()) if named else [(f"param_{i}", p) for i, p in enumerate(self.module.parameters())]
        )
        for pname, p in pairs:
            p.name, p.path = pname, f"{self.name}/{pname}"
            p._keras_trainable = bool(p.requires_grad)
            p.regularizer = p.constraint = None
            self._own_weights.append(p)
        self.built = True

    def call(self, *args, training=None, **kwargs):
        if hasattr(self.module, "train"):
            self.module.train(bool(training))
        return self.module(*args, **kwargs)

    def get_config(self):
        raise NotImplementedError(
            f"TorchModuleWrapper {self.name!r} wraps an arbitrary module and cannot be "
            "saved as config; save its weights with save_weights() instead"
        )
