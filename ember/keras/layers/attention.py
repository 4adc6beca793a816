"""MultiHeadAttention with Keras's weight layout: query/key/value kernels ``(dim, num_heads, key_dim)`` with
biases ``(num_heads, key_dim)``, output kernel ``(num_heads, value_dim, out_dim)`` with bias ``(out_dim,)``.
The attention itself is ``ember.nn.functional.scaled_dot_product_attention`` (Keras's mask becomes its additive
``-1e9`` mask, as Keras's masked softmax does; attention dropout is ``nn.functional.dropout``).

>>> from ember import keras
>>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
>>> x = keras.ops.ones((3, 5, 8))
>>> tuple(mha(x, x).shape), len(mha.weights)
((3, 5, 8), 8)
"""

from __future__ import annotations

import math

import ember
from ember import functional as F
from ember.nn import functional as NF

from .. import backend as K
from .. import initializers
from .base import Layer


class MultiHeadAttention(Layer):
    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if attention_axes is not None:
            raise ValueError(
                "MultiHeadAttention: only attention over axis 1 (attention_axes=None) is supported"
            )
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim or key_dim)
        self.dropout, self.use_bias, self._out_dim = dropout, use_bias, output_shape
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = value_shape or query_shape
        key_shape = key_shape or value_shape
        h = self.num_heads
        self._proj = {}
        for name, dim, width in (
            ("query", query_shape[-1], self.key_dim),
            ("key", key_shape[-1], self.key_dim),
            ("value", value_shape[-1], self.value_dim),
        ):
            kernel = self.add_weight((dim, h, width), self.kernel_initializer, name=f"{name}_kernel")
            bias = (
                self.add_weight((h, width), self.bias_initializer, name=f"{name}_bias")
                if self.use_bias
                else None
            )
            self._proj[name] = (kernel, bias)
        out_dim = self._out_dim or query_shape[-1]
        self.output_kernel = self.add_weight(
            (h, self.value_dim, out_dim), self.kernel_initializer, name="output_kernel"
        )
        self.output_bias = (
            self.add_weight((out_dim,), self.bias_initializer, name="output_bias") if self.use_bias else None
        )
        self.built = True

    def _project(self, x, name):
        kernel, bias = self._proj[name]
        n, t, d = x.shape
        out = (x.reshape(n * t, d) @ kernel.reshape(d, -1)).reshape(n, t, kernel.shape[1], kernel.shape[2])
        return out + bias if bias is not None else out

    def __call__(self, query, value=None, key=None, **kwargs):
        value = query if value is None else value
        if not self.built:
            self.build(tuple(query.shape), tuple(value.shape), None if key is None else tuple(key.shape))
        return super().__call__(query, value, key, **kwargs)

    def call(
        self,
        query,
        value,
        key=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        key = value if key is None else key
        if not self.built:
            self.build(tuple(query.shape), tuple(value.shape), tuple(key.shape))
        scale = 1.0 / math.sqrt(self.key_dim)
        q = self._project(query, "query").transpose(1, 2)  # (B, H, T, K)
        k = self._project(key, "key").transpose(1, 2)
        v = self._project(value, "value").transpose(1, 2)
        mask = _additive_mask(attention_mask, use_causal_mask, q, k)
        rate = self.dropout if training else 0.0
        if return_attention_scores:
            scores = F.matmul(q * scale, k.transpose(-2, -1))
            weights = F.softmax(scores if mask is None else scores + mask, -1)
            context = F.matmul(NF.dropout(weights, rate, training=rate > 0), v)
        else:
            context = NF.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=rate, scale=scale)
        out = F.einsum("bhtv,hvo->bto", context, self.output_kernel)
        if self.output_bias is not None:
            out = out + self.output_bias
        return (out, weights) if return_attention_scores else out

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self._out_dim,
        }


def _additive_mask(attention_mask, causal, q, k):
    """Keras's masking as an additive mask ``(B or 1, 1, T, S)``: 0 where attending, -1e9 elsewhere."""
    t, s = q.shape[-2], k.shape[-2]
    keep = None
    if attention_mask is not None:
        m = K.convert(attention_mask).to(ember.bool)
        keep = m.unsqueeze(1) if m.ndim == 3 else m
    if causal:
        tri = (ember.tril(ember.ones(t, s)) > 0).reshape(1, 1, t, s)
        keep = tri if keep is None else F.logical_and(keep, tri)
    return None if keep is None else (1.0 - keep.to(q.dtype)) * -1e9
