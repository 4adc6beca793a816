"""``EinsumDense`` (a dense layer written as an einsum equation) and ``AdditiveAttention`` (Bahdanau-style
scores), with Keras 3's arguments, weight shapes and names.

``EinsumDense("abc,cde->abde", output_shape=(None, 4, 8), bias_axes="de")`` projects each position of a
``(batch, seq, 16)`` input to ``(4, 8)`` (multi-head projections); the kernel's shape is read off the equation:
each kernel letter takes its size from the input where the input has it, else from ``output_shape`` (which
leaves out the batch dimension; ``None`` where the input gives the size). Equations may start their input and
output with ``...`` for leading dimensions passed through.

>>> from ember import keras
>>> layer = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 4, 8), bias_axes="de")
>>> tuple(layer(keras.ops.ones((2, 5, 16))).shape), [tuple(w.shape) for w in layer.weights]
((2, 5, 4, 8), [(16, 4, 8), (4, 8)])
"""
from __future__ import annotations

import re

import ember
from ember import functional as F

from .. import activations, initializers
from .attention import Attention
from .base import Layer, _constraint, constraint_configs

_EQUATION = re.compile(r"^(\.\.\.)?([a-zA-Z]+),([a-zA-Z]+)->(\.\.\.)?([a-zA-Z]+)$")


def _analyze(equation, input_shape, output_shape, bias_axes):
    """(kernel shape, bias shape or None, full output shape without the elided dims) for ``equation``."""
    m = _EQUATION.match(equation.replace(" ", ""))
    if m is None or bool(m.group(1)) != bool(m.group(4)):
        raise ValueError(f"EinsumDense: equation {equation!r} is not of the form 'ab,bc->ac' or "
                         "'...b,bc->...c' (one input, one kernel, an ellipsis on both sides or neither)")
    elided, in_spec, w_spec, out_spec = bool(m.group(1)), m.group(2), m.group(3), m.group(5)
    out = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    in_dims = list(input_shape[len(input_shape) - len(in_spec):]) if elided else list(input_shape)
    if len(in_dims) != len(in_spec):
        raise ValueError(f"EinsumDense: equation {equation!r} expects inputs of rank {len(in_spec)}, got shape "
                         f"{tuple(input_shape)}")
    full_out = out if elided else [in_dims[0]] + out  # output_shape leaves out the batch dimension
    if len(full_out) != len(out_spec):
        raise ValueError(f"EinsumDense: output_shape {tuple(out)} does not match the output of {equation!r} "
                         f"({len(out_spec) - (0 if elided else 1)} dims without the batch)")
    sizes = {c: d for c, d in zip(in_spec, in_dims)}
    for c, d in zip(out_spec, full_out):
        if c in sizes and d is not None and sizes[c] is not None and d != sizes[c]:
            raise ValueError(f"EinsumDense: output_shape gives {c!r} size {d}, the input {sizes[c]}")
        if c not in sizes:
            if c not in w_spec:
                raise ValueError(f"EinsumDense: output dim {c!r} of {equation!r} is in neither the input nor "
                                 "the kernel")
            sizes[c] = d
    kernel = []
    for c in w_spec:
        if sizes.get(c) is None:
            raise ValueError(f"EinsumDense: the size of kernel dim {c!r} of {equation!r} is unknown: give it in "
                             "output_shape")
        kernel.append(sizes[c])
    bias = None
    if bias_axes:
        unknown = [c for c in bias_axes if c not in out_spec]
        if unknown:
            raise ValueError(f"EinsumDense: bias_axes {bias_axes!r} names {unknown}, not in the output "
                             f"{out_spec!r}")
        first = min(out_spec.index(c) for c in bias_axes)
        bias = [sizes[c] if c in bias_axes else 1 for c in out_spec[first:]]
    return kernel, bias, [sizes[c] for c in out_spec]


class EinsumDense(Layer):
    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if lora_rank:
            raise NotImplementedError("EinsumDense(lora_rank=...) is not supported in Ember")
        self.equation, self.bias_axes = equation, bias_axes
        self.partial_output_shape = output_shape
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = _constraint(kernel_constraint), _constraint(bias_constraint)

    def build(self, input_shape):
        kernel, bias, _ = _analyze(self.equation, input_shape, self.partial_output_shape, self.bias_axes)
        self.kernel = self.add_weight(kernel, self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = None if bias is None else self.add_weight(
            bias, self.bias_initializer, name="bias", regularizer=self.bias_regularizer,
            constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs):
        out = ember.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            out = out + self.bias
        return self.activation(out) if self.activation is not None else out

    def get_config(self):
        return {**super().get_config(), "equation": self.equation, "output_shape": self.partial_output_shape,
                "activation": activations.serialize(self.activation), "bias_axes": self.bias_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer), **constraint_configs(self)}


class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention: scores ``sum(scale * tanh(q + k), -1)`` with a learned ``scale`` of the
    features' size (``use_scale=True``, Keras's default), then masking, softmax and ``@ value`` as ``Attention``.

    >>> from ember import keras
    >>> q, v = keras.ops.ones((2, 3, 4)), keras.ops.ones((2, 5, 4))
    >>> tuple(keras.layers.AdditiveAttention()([q, v]).shape)
    (2, 3, 4)
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        dim = input_shape[-1][-1] if isinstance(input_shape[0], (list, tuple)) else input_shape[-1]
        self.scale = self.add_weight((dim,), "glorot_uniform", name="scale") if self.use_scale else None
        self.concat_score_weight = None
        self.built = True

    def _scores(self, q, k):
        summed = F.tanh(q.unsqueeze(-2) + k.unsqueeze(-3))
        return (summed * self.scale if self.scale is not None else summed).sum(-1)

    def get_config(self):
        config = super().get_config()
        config.pop("score_mode", None)
        return config
