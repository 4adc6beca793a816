"""``GroupQueryAttention`` (Ainslie et al., 2023) with Keras 3's arguments, weight shapes and order: query heads
share ``num_key_value_heads`` key/value heads (each key/value head serves ``num_query_heads //
num_key_value_heads`` consecutive query heads); ``num_key_value_heads=1`` is multi-query attention. Options as
Keras's: ``sliding_window`` (attend only within ``sliding_window - 1`` positions), ``use_gate`` (a sigmoid gate
from the query on each head's output), masks as ``MultiHeadAttention``'s.

>>> from ember import keras
>>> gqa = keras.layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)
>>> x = keras.ops.ones((3, 5, 8))
>>> tuple(gqa(x, x).shape), [tuple(w.shape) for w in gqa.weights][:4]
((3, 5, 8), [(8, 4, 4), (4, 4), (8, 2, 4), (2, 4)])
"""

from __future__ import annotations

import math

import ember
from ember import functional as F
from ember.nn import functional as NF

from .. import backend as K
from .. import initializers, regularizers
from .attention import _combine_masks, _mask_of
from .base import Layer, _constraint, constraint_configs


class GroupQueryAttention(Layer):
    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0, use_bias=True,
                 sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, use_gate=False,
                 seed=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if num_query_heads % num_key_value_heads:
            raise ValueError(f"GroupQueryAttention {self.name!r}: num_query_heads ({num_query_heads}) must be a "
                             f"multiple of num_key_value_heads ({num_key_value_heads})")
        if sliding_window is not None and (not isinstance(sliding_window, int) or sliding_window < 1):
            raise ValueError(f"GroupQueryAttention {self.name!r}: sliding_window must be a positive integer or "
                             f"None, got {sliding_window!r}")
        self.head_dim, self.num_query_heads = int(head_dim), int(num_query_heads)
        self.num_key_value_heads = int(num_key_value_heads)
        self.dropout, self.use_bias, self.use_gate, self.seed = float(dropout), use_bias, use_gate, seed
        self.sliding_window, self.flash_attention = sliding_window, flash_attention
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint, self.bias_constraint = _constraint(kernel_constraint), _constraint(bias_constraint)

    def _projection(self, name, dim, heads):
        kernel = self.add_weight((dim, heads, self.head_dim), self.kernel_initializer, name=f"{name}_kernel",
                                 regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        bias = self.add_weight((heads, self.head_dim), self.bias_initializer, name=f"{name}_bias",
                               regularizer=self.bias_regularizer, constraint=self.bias_constraint) \
            if self.use_bias else None
        return kernel, bias

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = value_shape or query_shape
        key_shape = key_shape or value_shape
        q_dim, hq, hkv = query_shape[-1], self.num_query_heads, self.num_key_value_heads
        self._proj = {"query": self._projection("query", q_dim, hq), "key": self._projection("key", key_shape[-1], hkv)}
        if self.use_gate:  # Keras creates the gate between the key and the value projections
            self._proj["gate"] = self._projection("gate", q_dim, hq)
        self._proj["value"] = self._projection("value", value_shape[-1], hkv)
        self.output_kernel = self.add_weight((hq, self.head_dim, q_dim), self.kernel_initializer,
                                             name="output_kernel", regularizer=self.kernel_regularizer,
                                             constraint=self.kernel_constraint)
        self.output_bias = self.add_weight((q_dim,), self.bias_initializer, name="output_bias",
                                           regularizer=self.bias_regularizer, constraint=self.bias_constraint) \
            if self.use_bias else None
        self.built = True

    def _project(self, x, name):
        kernel, bias = self._proj[name]
        out = F.einsum("btd,dhk->bthk", x, kernel)
        return out if bias is None else out + bias

    def __call__(self, query, value=None, key=None, **kwargs):
        value = query if value is None else value
        if not self.built:
            self.build(tuple(query.shape), tuple(value.shape), None if key is None else tuple(key.shape))
        return super().__call__(query, value, key, **kwargs)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        query_mask = _mask_of(query, query_mask, prefer_tensor=True)
        value_mask = _mask_of(value, value_mask)
        key_mask = None if key is None else _mask_of(key, key_mask)
        query, value = K.convert(query), K.convert(value)
        key = value if key is None else K.convert(key)
        keep = _combine_masks(attention_mask, query_mask, value_mask, key_mask)
        groups = self.num_query_heads // self.num_key_value_heads
        q = self._project(query, "query").transpose(1, 2)  # (B, Hq, T, D)
        k = self._project(key, "key").repeat_interleave(groups, dim=2).transpose(1, 2)  # key head i -> i*g..
        v = self._project(value, "value").repeat_interleave(groups, dim=2).transpose(1, 2)
        scores = F.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        band = _band(q.shape[-2], k.shape[-2], use_causal_mask, self.sliding_window)
        if keep is not None:
            keep = keep.unsqueeze(1) if keep.ndim == 3 else keep
            band = keep if band is None else F.logical_and(keep, band)
        if band is not None:
            scores = scores + (1.0 - band.to(scores.dtype)) * -1e9  # Keras's masked softmax
        weights = F.softmax(scores, -1)
        rate = self.dropout if training else 0.0
        context = F.matmul(NF.dropout(weights, rate, training=rate > 0), v).transpose(1, 2)  # (B, T, Hq, D)
        if self.use_gate:
            context = context * F.sigmoid(self._project(query, "gate"))
        out = F.einsum("bthd,hdo->bto", context, self.output_kernel)
        if self.output_bias is not None:
            out = out + self.output_bias
        return (out, weights) if return_attention_scores else out

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def get_config(self):
        return {**super().get_config(), "head_dim": self.head_dim, "num_query_heads": self.num_query_heads,
                "num_key_value_heads": self.num_key_value_heads, "use_bias": self.use_bias,
                "use_gate": self.use_gate, "sliding_window": self.sliding_window, "dropout": self.dropout,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": _serialized(self.kernel_regularizer),
                "bias_regularizer": _serialized(self.bias_regularizer), "seed": self.seed,
                **constraint_configs(self)}


def _serialized(regularizer):
    return None if regularizer is None else regularizers.serialize(regularizer)


def _band(t, s, causal, window):
    """Which key positions each query position may see, ``(1, 1, T, S)`` booleans, or None for all."""
    if not causal and window is None:
        return None
    rows = ember.arange(t).reshape(t, 1)
    cols = ember.arange(s).reshape(1, s)
    keep = ember.ones(t, s, dtype=ember.bool)
    if causal:
        keep = F.logical_and(keep, cols <= rows)
    if window is not None:
        keep = F.logical_and(keep, (rows - cols).abs() < window)
    return keep.reshape(1, 1, t, s)
