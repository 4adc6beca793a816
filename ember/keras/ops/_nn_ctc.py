"""Connectionist temporal classification: ``ctc_loss`` (the forward algorithm in log space, differentiable
through Ember's autograd) and greedy ``ctc_decode``.

>>> import numpy as np
>>> from ember.keras import ops
>>> logits = np.zeros((1, 4, 3), "float32")
>>> round(float(ops.convert_to_numpy(ops.ctc_loss([[1, 2]], logits, [2], [4]))[0]), 4)
1.6864
"""

from __future__ import annotations

import numpy as np

import ember
from ember import functional as F

from ._common import fail, t, tf, to_numpy

_NEG = -1e30  # log(0) kept finite so that logsumexp of impossible paths has a finite gradient


def _shift(alpha, n):
    """``alpha`` moved ``n`` states to the right along the last axis, log(0) filled in."""
    return F.pad(alpha, [n, 0], value=_NEG)[..., : alpha.shape[-1]]


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Per-example CTC negative log-likelihood; ``output`` are logits ``(batch, time, classes)``, ``target``
    integer labels ``(batch, max_label_length)``, ``mask_index`` the blank class."""
    logits, labels = tf(output), t(target, "int64")
    if logits.ndim != 3 or labels.ndim != 2 or labels.shape[0] != logits.shape[0]:
        raise fail("ctc_loss", f"expects output (batch, time, classes) and target (batch, labels), got "
                               f"{tuple(logits.shape)} and {tuple(labels.shape)}")
    batch, steps, _ = logits.shape
    label_len = to_numpy(target_length).astype(np.int64).reshape(batch)
    out_len = to_numpy(output_length).astype(np.int64).reshape(batch)
    logp = F.log_softmax(logits, -1)
    n_states = 2 * labels.shape[1] + 1
    ext = np.full((batch, n_states), mask_index, np.int64)
    ext[:, 1::2] = to_numpy(labels)
    # a label may follow the one two states back only when they differ (else a blank must separate them)
    skip = np.zeros((batch, n_states), bool)
    skip[:, 2:] = (ext[:, 2:] != mask_index) & (ext[:, 2:] != ext[:, :-2])
    emit = F.gather(logp, 2, t(np.broadcast_to(ext[:, None, :], (batch, steps, n_states)).copy()))
    init = np.full((batch, n_states), _NEG, np.float32)
    init[:, 0] = 0.0
    init[:, 1] = np.where(label_len > 0, 0.0, _NEG)
    alpha = t(init).to(logits.dtype) + emit[:, 0]
    skip_t, neg = t(skip), ember.full_like(alpha, _NEG)
    for step in range(1, steps):
        stacked = F.stack([alpha, _shift(alpha, 1), F.where(skip_t, _shift(alpha, 2), neg)], 0)
        new = F.logsumexp(stacked, 0) + emit[:, step]
        active = t((step < out_len).reshape(batch, 1))
        alpha = F.where(active, new, alpha)
    last = t(np.stack([2 * label_len, np.maximum(2 * label_len - 1, 0)], 1))
    ends = F.gather(alpha, 1, last)
    both = F.where(t((label_len > 0).reshape(batch, 1)), ends, F.cat([ends[:, :1], ends[:, :1] * 0 + _NEG], 1))
    return -F.logsumexp(both, 1)


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    """Greedy decoding: ``(decoded (1, batch, time) padded with -1, scores (batch, 1))``."""
    if strategy != "greedy":
        raise fail("ctc_decode", f"strategy {strategy!r} is not supported (only 'greedy')", NotImplementedError)
    x = tf(inputs)
    if x.ndim != 3:
        raise fail("ctc_decode", f"expects inputs (batch, time, classes), got shape {tuple(x.shape)}")
    batch, steps, classes = x.shape
    mask_index = classes - 1 if mask_index is None else mask_index
    lengths = to_numpy(sequence_lengths).astype(np.int64).reshape(batch)
    best = to_numpy(F.argmax(x, -1)).astype(np.int32)
    valid = np.arange(steps)[None, :] < lengths[:, None]
    best = np.where(valid, best, mask_index)
    if merge_repeated:
        repeat = np.zeros_like(valid)
        repeat[:, 1:] = best[:, 1:] == best[:, :-1]
        best = np.where(repeat, mask_index, best)
    decoded = np.full((batch, steps), -1, np.int32)
    for b in range(batch):
        kept = best[b][best[b] != mask_index]
        decoded[b, : len(kept)] = kept
    scores = -F.sum(F.where(t(valid), F.amax(x, -1), x[..., 0] * 0), 1, True)
    return t(decoded[None]), scores
