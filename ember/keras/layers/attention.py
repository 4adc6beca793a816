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
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        # Keras 3: the Keras masks carried by query / value / key (Embedding(mask_zero=True), Masking) fill
        # query_mask / value_mask / key_mask; the query's mask always wins for query_mask
        query_mask = _mask_of(query, query_mask, prefer_tensor=True)
        value_mask = _mask_of(value, value_mask)
        key_mask = None if key is None else _mask_of(key, key_mask)
        key = value if key is None else key
        if not self.built:
            self.build(tuple(query.shape), tuple(value.shape), tuple(key.shape))
        attention_mask = _combine_masks(attention_mask, query_mask, value_mask, key_mask)
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

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask  # the query's mask, as Keras sets on the output

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


def _mask_of(tensor, explicit, prefer_tensor=False):
    carried = getattr(tensor, "_keras_mask", None)
    if prefer_tensor and carried is not None:
        return carried
    return explicit if explicit is not None else carried


def _combine_masks(attention_mask, query_mask, value_mask, key_mask):
    """Keras's rule: ``attention_mask & query_mask[:, :, None] & value_mask[:, None, :] & key_mask[:, None, :]``
    (each optional), as a boolean ``(B, T, S)`` mask."""
    parts = []
    if query_mask is not None:
        parts.append(K.convert(query_mask).to(ember.bool).unsqueeze(-1))
    for m in (value_mask, key_mask):
        if m is not None:
            parts.append(K.convert(m).to(ember.bool).unsqueeze(-2))
    if attention_mask is not None:
        parts.append(K.convert(attention_mask).to(ember.bool))
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = F.logical_and(out, p)
    return out


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


class Attention(Layer):
    """Dot-product (Luong) attention over ``[query, value]`` or ``[query, value, key]``: scores ``q @ k^T``
    (times a learned ``scale`` with ``use_scale=True``; ``score_mode="concat"`` scores
    ``w * sum(tanh(q + k))``), masked by the value mask (and a causal mask), softmax, then ``@ value``; query
    positions masked out give zeros. Masks come from ``mask=[query_mask, value_mask]`` or from the inputs'
    Keras masks (``Embedding(mask_zero=True)``).

    >>> from ember import keras
    >>> q, v = keras.ops.ones((2, 3, 4)), keras.ops.ones((2, 5, 4))
    >>> tuple(keras.layers.Attention()([q, v]).shape)
    (2, 3, 4)
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention: score_mode must be 'dot' or 'concat', got {score_mode!r}")
        self.use_scale, self.score_mode, self.dropout, self.seed = use_scale, score_mode, float(dropout), seed
        from .. import random

        self.seed_generator = random.SeedGenerator(seed)

    def build(self, input_shape):
        self.scale = self.add_weight((), "ones", name="scale") if self.use_scale else None
        self.concat_score_weight = (
            self.add_weight((), "ones", name="concat_score_weight") if self.score_mode == "concat" else None
        )
        self.built = True

    def _scores(self, q, k):
        if self.score_mode == "dot":
            scores = F.matmul(q, k.transpose(-2, -1))
            return scores * self.scale if self.scale is not None else scores
        summed = q.unsqueeze(-2) + k.unsqueeze(-3)
        if self.scale is not None:
            summed = self.scale * summed
        return self.concat_score_weight * F.tanh(summed).sum(-1)

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(f"Attention {self.name!r}: pass [query, value] or [query, value, key], got {inputs!r}")
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask, v_mask = (list(mask) + [None, None])[:2] if mask is not None else (None, None)
        scores = self._scores(q, k)
        keep = None if v_mask is None else K.convert(v_mask).to(ember.bool).unsqueeze(-2)
        if use_causal_mask:
            t, s = scores.shape[-2], scores.shape[-1]
            causal = (ember.tril(ember.ones(t, s)) > 0).reshape(1, t, s)
            keep = causal if keep is None else F.logical_and(keep, causal)
        if keep is not None:
            scores = F.where(keep, scores, scores - 1.0e9)
        weights = F.softmax(scores, -1)
        if training and self.dropout > 0:
            from .. import random

            weights = random.dropout(weights, self.dropout, seed=self.seed_generator)
        out = F.matmul(weights, v)
        if q_mask is not None:
            out = out * K.convert(q_mask).to(out.dtype).unsqueeze(-1)
        return (out, weights) if return_attention_scores else out

    def compute_mask(self, inputs, previous_mask=None):
        if previous_mask is None or not isinstance(previous_mask, (list, tuple)):
            return None
        return previous_mask[0]

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}
