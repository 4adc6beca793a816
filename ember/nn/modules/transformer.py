"""TransformerEncoderLayer and TransformerEncoder (PyTorch's structure, names and defaults); the decoder side
and the full ``nn.Transformer`` are in ``transformer_decoder.py``."""
from __future__ import annotations

import copy

from ... import creation
from ...errors import mark, with_user_line
from ...functional.index import triu
from .. import functional as F
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerEncoder", "generate_square_subsequent_mask"]


def generate_square_subsequent_mask(sz, device=None, dtype=None):
    """The causal float mask: 0 on and below the diagonal, -inf above (``nn.Transformer``'s helper)."""
    return triu(creation.full((sz, sz), float("-inf"), dtype=dtype, device=device), diagonal=1)


def _activation(activation, owner="TransformerEncoderLayer"):
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise mark(with_user_line(RuntimeError(
        f"{owner}: activation should be 'relu' or 'gelu' (or a callable), not {activation!r}"), 3))


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual connection and LayerNorm (post-norm by
    default, pre-norm with ``norm_first=True``).

    >>> import ember
    >>> from ember import nn
    >>> layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True)
    >>> layer(ember.randn(2, 10, 32)).shape
    ember.Size([2, 10, 32])
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True, device=None,
                 dtype=None):
        super().__init__()
        fac = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **fac)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **fac)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **fac)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fac)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fac)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        self.batch_first = batch_first

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal and attn_mask is not None)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` deep copies of ``encoder_layer``, with an optional final ``norm``.

    >>> import ember
    >>> from ember import nn
    >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, batch_first=True)
    >>> enc = nn.TransformerEncoder(layer, num_layers=2)
    >>> mask = nn.Transformer.generate_square_subsequent_mask(7)
    >>> enc(ember.randn(3, 7, 16), mask=mask, is_causal=True).shape
    ember.Size([3, 7, 16])
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise mark(with_user_line(TypeError(
                f"TransformerEncoder: encoder_layer must be a Module (e.g. nn.TransformerEncoderLayer), got "
                f"{type(encoder_layer).__name__}"), 2))
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        causal = _causal_hint(is_causal)
        out = src
        for mod in self.layers:
            out = mod(out, src_mask=mask, is_causal=causal, src_key_padding_mask=src_key_padding_mask)
        return self.norm(out) if self.norm is not None else out


def _causal_hint(is_causal):
    """The ``is_causal`` hint the layers get. PyTorch detects a causal mask by comparing its values (for a fast
    path); here the hint changes no number (``multi_head_attention_forward`` always applies the mask), so the
    mask's values are not read: such a read would stop a compiled step (a graph break) for nothing."""
    return bool(is_causal) if is_causal is not None else False
