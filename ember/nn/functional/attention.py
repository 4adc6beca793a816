"""Attention (torch.nn.functional.scaled_dot_product_attention, multi_head_attention_forward): composites.

>>> import ember
>>> import ember.nn.functional as F
>>> q = k = v = ember.randn(2, 4, 5, 8)            # (batch, heads, seq, head_dim)
>>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
ember.Size([2, 4, 5, 8])
"""
from __future__ import annotations

import math

from ..._autocast import autocast_op
from ...creation import ones, zeros
from ...errors import mark, with_user_line
from ...functional.index import masked_fill, tril
from ...functional.linalg import matmul, softmax
from ...functional.math import where
from ...functional.shape import cat
from ...ops import composite
from ...tensor import Tensor
from ..attention import check_backend_available
from .dropout import dropout
from .linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _err(exc, skip=3):
    return mark(with_user_line(exc, skip))


def _causal_mask(lq, lk, device):
    return tril(ones(lq, lk, device=device)) > 0


def _check_sdpa(q, k, v, attn_mask):
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, Tensor) or t.ndim < 2:
            got = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise _err(ValueError(f"scaled_dot_product_attention: {name} must be a tensor (..., L, E) with "
                                  f"at least 2 dims, got {got}"), 4)
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise _err(RuntimeError(f"scaled_dot_product_attention: query {tuple(q.shape)}, key "
                                f"{tuple(k.shape)} and value {tuple(v.shape)} do not fit: query and key need "
                                "the same last dim (E), key and value the same sequence length (dim -2)"), 4)
    if attn_mask is not None and attn_mask.ndim >= 2 and (
            attn_mask.shape[-1] not in (1, k.shape[-2]) or attn_mask.shape[-2] not in (1, q.shape[-2])):
        raise _err(RuntimeError(f"scaled_dot_product_attention: attn_mask of shape "
                                f"{tuple(attn_mask.shape)} does not broadcast to the attention scores "
                                f"(..., {q.shape[-2]}, {k.shape[-2]})"), 4)


@autocast_op
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(q @ k^T * scale + mask) @ v. A bool ``attn_mask`` marks the positions that may attend (True =
    keep); a float mask is added to the scores; ``is_causal`` applies a lower-triangular mask.

    >>> q = k = v = ember.ones(1, 2, 3, 4)    # (batch, heads, seq, head_dim)
    >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
    ember.Size([1, 2, 3, 4])
    """
    _check_sdpa(query, key, value, attn_mask)
    check_backend_available("scaled_dot_product_attention")
    if enable_gqa and key.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(rep, -3), value.repeat_interleave(rep, -3)
    if is_causal and attn_mask is not None:
        raise _err(RuntimeError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, "
                                "not both"))
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    masks = [] if attn_mask is None else [attn_mask]
    if dropout_p > 0.0:
        weights = _attention_weights(query, key, *masks, scale=s, is_causal=is_causal)
        return matmul(dropout(weights, dropout_p, training=True), value)
    return _attention(query, key, value, *masks, scale=s, is_causal=is_causal, need_weights=False)


def _attention_weights(query, key, *mask, scale, is_causal):
    """softmax(q * scale @ k^T, masked) over the last dim."""
    scores = matmul(query * scale, key.transpose(-2, -1))
    if is_causal:
        scores = masked_fill(scores, ~_causal_mask(query.shape[-2], key.shape[-2], query.device), float("-inf"))
    elif mask:
        if mask[0].dtype.name == "bool":
            scores = masked_fill(scores, ~mask[0], float("-inf"))
        else:
            scores = scores + mask[0].to(scores.dtype)
    return softmax(scores, -1)


@composite("scaled_dot_product_attention")
def _attention(query, key, value, *mask, scale, is_causal, need_weights):
    """Attention without dropout (the ``scaled_dot_product_attention`` layer op's eager composite); returns the
    output, or (output, weights) with ``need_weights``."""
    weights = _attention_weights(query, key, *mask, scale=scale, is_causal=is_causal)
    out = matmul(weights, value)
    return (out, weights) if need_weights else out


# -- multi-head attention (seq-first, as torch.nn.functional.multi_head_attention_forward) ------------------
def _float_mask(mask, dtype, name):
    """PyTorch's canonical mask: bool True -> -inf (masked out), float masks are added as they are."""
    if mask is None:
        return None
    if mask.dtype.name == "bool":  # a where over scalars: no constant of the mask's (batch-sized) shape
        zero = zeros((), dtype=dtype, device=mask.device)
        return where(mask, zero - float("inf"), zero)
    if not mask.is_floating_point():
        raise _err(TypeError(f"multi_head_attention_forward: {name} must be bool or float, got "
                             f"{mask.dtype.name}"), 4)
    return mask.to(dtype)


def _project(query, key, value, w, b, e, separate):
    if separate is not None:
        qw, kw, vw = separate
        bq, bk, bv = (None, None, None) if b is None else b.chunk(3)
        return linear(query, qw, bq), linear(key, kw, bk), linear(value, vw, bv)
    if query is key and key is value:  # self-attention: one matmul for q, k and v
        return linear(query, w, b).chunk(3, -1)
    bq, bk, bv = (None, None, None) if b is None else b.chunk(3)
    wq, wk, wv = w.chunk(3)
    return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)


def _attn_mask_3d(attn_mask, bsz, heads, tgt, src, dtype):
    mask = _float_mask(attn_mask, dtype, "attn_mask")
    if mask is None:
        return None
    if mask.ndim == 2:
        if tuple(mask.shape) != (tgt, src):
            raise _err(RuntimeError(f"multi_head_attention_forward: the 2-D attn_mask should have shape "
                                    f"{(tgt, src)}, but got {tuple(mask.shape)}"), 4)
        return mask.reshape(1, 1, tgt, src)
    if tuple(mask.shape) != (bsz * heads, tgt, src):
        raise _err(RuntimeError(f"multi_head_attention_forward: the 3-D attn_mask should have shape "
                                f"{(bsz * heads, tgt, src)}, but got {tuple(mask.shape)}"), 4)
    return mask.reshape(bsz, heads, tgt, src)


def _heads(t, length, bsz, heads, hd):
    return t.reshape(length, bsz, heads, hd).permute(1, 2, 0, 3)


def _pad_last(mask):
    """Append one column to a mask (the extra bias_k / zero-attention key is never masked)."""
    if mask is None:
        return None
    col = zeros(*mask.shape[:-1], 1, dtype=mask.dtype, device=mask.device)
    return cat([mask, col], -1)


def _add_bias_kv(k, v, bias_k, bias_v, add_zero_attn, mask, kpm):
    if bias_k is not None:
        k = cat([k, bias_k.reshape(1, 1, -1).expand(1, k.shape[1], k.shape[2])])
        v = cat([v, bias_v.reshape(1, 1, -1).expand(1, v.shape[1], v.shape[2])])
        mask, kpm = _pad_last(mask), _pad_last(kpm)
    if add_zero_attn:
        k = cat([k, zeros(1, *k.shape[1:], dtype=k.dtype, device=k.device)])
        v = cat([v, zeros(1, *v.shape[1:], dtype=v.dtype, device=v.device)])
        mask, kpm = _pad_last(mask), _pad_last(kpm)
    return k, v, mask, kpm


def _merge_masks(attn_mask, key_padding_mask, bsz, heads, tgt, src, dtype):
    """One additive float mask broadcastable to the (N, heads, L, S) scores, or None."""
    mask = _attn_mask_3d(attn_mask, bsz, heads, tgt, src, dtype)
    if key_padding_mask is None:
        return mask
    if tuple(key_padding_mask.shape) != (bsz, src):
        raise _err(RuntimeError(f"multi_head_attention_forward: key_padding_mask should have shape "
                                f"{(bsz, src)} (batch, source length), but got "
                                f"{tuple(key_padding_mask.shape)}"), 4)
    kpm = _float_mask(key_padding_mask, dtype, "key_padding_mask").reshape(bsz, 1, 1, src)
    return kpm if mask is None else mask + kpm


def _check_mha(query, e_expected, num_heads, is_causal, attn_mask):
    e = query.shape[-1]
    if e != e_expected:
        raise _err(RuntimeError(f"multi_head_attention_forward: query of shape {tuple(query.shape)} has "
                                f"embedding size {e} but the layer expects embed_dim={e_expected}"), 4)
    if e % num_heads:
        raise _err(ValueError(f"multi_head_attention_forward: embed_dim {e} is not divisible by num_heads "
                              f"{num_heads}"), 4)
    if is_causal and attn_mask is None:
        raise _err(RuntimeError("multi_head_attention_forward: is_causal is a hint that attn_mask is the "
                                "causal mask; pass attn_mask too (e.g. "
                                "nn.Transformer.generate_square_subsequent_mask)"), 4)


def _attend(q, k, v, mask, p, out_proj_weight, out_proj_bias):
    """softmax(q k^T / sqrt(d) + mask) (dropped out) @ v, heads merged and projected: (L, N, E), weights."""
    bsz, heads, tgt, hd = q.shape
    masks = [] if mask is None else [mask]
    if p > 0.0:
        weights = dropout(_attention_weights(q, k, *masks, scale=1.0 / math.sqrt(hd), is_causal=False), p,
                          training=True)
        out = matmul(weights, v)
    else:
        out, weights = _attention(q, k, v, *masks, scale=1.0 / math.sqrt(hd), is_causal=False, need_weights=True)
    out = out.permute(2, 0, 1, 3).reshape(tgt * bsz, heads * hd)
    return linear(out, out_proj_weight, out_proj_bias).reshape(tgt, bsz, heads * hd), weights


@autocast_op
def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight,
                                 out_proj_bias, training=True, key_padding_mask=None, need_weights=True,
                                 attn_mask=None, use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None, static_v=None,
                                 average_attn_weights=True, is_causal=False):
    """Multi-head attention on (L, N, E) inputs (or unbatched (L, E)); returns (output, weights or None).

    >>> _ = ember.manual_seed(0)
    >>> E, heads = 4, 2
    >>> x = ember.randn(3, 1, E)    # (L, N, E)
    >>> w_in, b_in = ember.randn(3 * E, E), ember.zeros(3 * E)
    >>> w_out, b_out = ember.randn(E, E), ember.zeros(E)
    >>> out, weights = F.multi_head_attention_forward(x, x, x, E, heads, w_in, b_in, None, None, False, 0.0,
    ...                                               w_out, b_out)
    >>> out.shape, weights.shape
    (ember.Size([3, 1, 4]), ember.Size([1, 3, 3]))
    """
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        key_padding_mask = None if key_padding_mask is None else key_padding_mask.unsqueeze(0)
    _check_mha(query, embed_dim_to_check, num_heads, is_causal, attn_mask)
    tgt, bsz, e = query.shape
    separate = (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight else None
    q, k, v = _project(query, key, value, in_proj_weight, in_proj_bias, e, separate)
    k, v, attn_mask, key_padding_mask = _add_bias_kv(k, v, bias_k, bias_v, add_zero_attn, attn_mask,
                                                     key_padding_mask)
    hd = e // num_heads
    q = _heads(q, tgt, bsz, num_heads, hd)
    k = _heads(k, k.shape[0], bsz, num_heads, hd) if static_k is None else static_k.reshape(bsz, num_heads, -1, hd)
    v = _heads(v, v.shape[0], bsz, num_heads, hd) if static_v is None else static_v.reshape(bsz, num_heads, -1, hd)
    mask = _merge_masks(attn_mask, key_padding_mask, bsz, num_heads, tgt, k.shape[2], q.dtype)
    out, weights = _attend(q, k, v, mask, dropout_p if training else 0.0, out_proj_weight, out_proj_bias)
    if unbatched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    if average_attn_weights:
        weights = weights.mean(1)
    return out, (weights.squeeze(0) if unbatched else weights)
