"""MultiheadAttention with PyTorch's parameters (in_proj_weight, in_proj_bias, out_proj) and semantics."""
from __future__ import annotations

from ... import creation
from ...errors import mark, with_user_line
from .. import init
from ..functional.attention import multi_head_attention_forward
from .linear import Linear
from .module import Module, Parameter

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """Multi-head attention: ``softmax(q k^T / sqrt(d)) v`` over ``num_heads`` heads, then an output
    projection.

    Inputs are (L, N, E) (or (N, L, E) with ``batch_first``); returns ``(output, weights)`` where the weights
    are averaged over heads unless ``average_attn_weights=False`` (None when ``need_weights=False``). A bool
    ``attn_mask`` / ``key_padding_mask`` marks with True the positions that may NOT be attended.

    >>> import ember
    >>> from ember import nn
    >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
    >>> x = ember.randn(2, 5, 16)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    (ember.Size([2, 5, 16]), ember.Size([2, 5, 5]))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise mark(with_user_line(ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be positive and divisible by num_heads "
                f"({num_heads})"), 2))
        fac = {"device": device, "dtype": dtype}
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.batch_first = batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, **fac))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(creation.empty(embed_dim, embed_dim, **fac))
            self.k_proj_weight = Parameter(creation.empty(embed_dim, self.kdim, **fac))
            self.v_proj_weight = Parameter(creation.empty(embed_dim, self.vdim, **fac))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, **fac))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **fac)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty(1, 1, embed_dim, **fac))
            self.bias_v = Parameter(creation.empty(1, 1, embed_dim, **fac))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _check(self, query, key, value):
        expected = (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim))
        for name, t, dim in expected:
            if not hasattr(t, "_data") or t.ndim not in (2, 3) or t.shape[-1] != dim:
                got = tuple(t.shape) if hasattr(t, "shape") else type(t).__name__
                layout = "(batch, seq, embed)" if self.batch_first else "(seq, batch, embed)"
                raise mark(with_user_line(RuntimeError(
                    f"MultiheadAttention: expected {name} of shape {layout} with embed size {dim} in the "
                    f"last dim (or unbatched (seq, embed)), got {got}"), 4))

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        self._check(query, key, value)
        batched = query.ndim == 3
        if self.batch_first and batched:
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = query.transpose(1, 0), key.transpose(1, 0)
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight,
            self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        if self.batch_first and batched:
            out = out.transpose(1, 0)
        return out, weights

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
