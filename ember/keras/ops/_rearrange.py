"""``keras.ops.rearrange`` (einops-style axis patterns) and ``keras.ops.numpy.vectorize``.

>>> from ember.keras import ops
>>> tuple(ops.rearrange(ops.ones((2, 3, 4, 5)), "b h w c -> b (h w) c").shape)
(2, 12, 5)
"""

from __future__ import annotations

import itertools
import re

import numpy as np

from ember import functional as F

from ._common import fail, t


def _parse(side):
    """``'b (h w) c'`` -> ``[['b'], ['h', 'w'], ['c']]`` (each group one axis of the tensor)."""
    groups, i = [], 0
    tokens = re.findall(r"\(|\)|[A-Za-z_][A-Za-z0-9_]*|\d+|\S", side)
    while i < len(tokens):
        tok = tokens[i]
        if tok == "(":
            j = tokens.index(")", i)
            groups.append(tokens[i + 1:j])
            i = j + 1
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|1", tok):
            groups.append([] if tok == "1" else [tok])
            i += 1
        else:
            raise fail("rearrange", f"cannot parse {side!r} (names, '(...)' groups and '1' are allowed)")
    return groups


def rearrange(tensor, pattern, **axes_lengths):
    """Reshape / transpose by pattern: ``'b h w c -> b c h w'``, ``'b (h w) c -> b h w c'`` with ``h=...``."""
    x = t(tensor)
    if "->" not in pattern:
        raise fail("rearrange", f"pattern needs '->', got {pattern!r}")
    left, right = (_parse(s.strip()) for s in pattern.split("->"))
    if len(left) != x.ndim:
        raise fail("rearrange", f"pattern {pattern!r} names {len(left)} axes, the tensor has {x.ndim} "
                                f"(shape {tuple(x.shape)})")
    sizes = {k: int(v) for k, v in axes_lengths.items()}
    for group, dim in zip(left, x.shape):
        unknown = [n for n in group if n not in sizes]
        known = int(np.prod([sizes[n] for n in group if n in sizes]))
        if len(unknown) > 1:
            raise fail("rearrange", f"axes {unknown} in one group need their lengths (e.g. {unknown[0]}=...)")
        if unknown:
            sizes[unknown[0]] = dim // known
        if int(np.prod([sizes[n] for n in group])) != dim:
            raise fail("rearrange", f"group {group} does not match axis of size {dim}")
    names = [n for g in left for n in g]
    out_names = [n for g in right for n in g]
    if sorted(names) != sorted(out_names):
        raise fail("rearrange", f"both sides must name the same axes, got {names} and {out_names}")
    flat = x.reshape(tuple(sizes[n] for n in names))
    moved = flat.permute(*[names.index(n) for n in out_names])
    return moved.reshape(tuple(int(np.prod([sizes[n] for n in g])) for g in right))


def vectorize(pyfunc, *, excluded=None, signature=None):
    """``pyfunc`` mapped over the broadcast leading (non-core) axes of its tensor arguments, results stacked;
    ``signature`` (``'(n),(n)->()'``) names each argument's core axes, as ``numpy.vectorize``."""
    excluded = set(excluded or ())
    core_in = None
    if signature is not None:
        ins = signature.split("->")[0]
        core_in = [len([d for d in g.split(",") if d.strip()]) for g in re.findall(r"\(([^)]*)\)", ins)]

    def wrapper(*args):
        mapped = [i for i in range(len(args)) if i not in excluded]
        tensors = {i: t(args[i]) for i in mapped}
        cores = {i: (core_in[k] if core_in else 0) for k, i in enumerate(mapped)}
        batch = np.broadcast_shapes(*[tuple(tensors[i].shape[:tensors[i].ndim - cores[i]]) for i in mapped])
        full = {i: F.broadcast_to(tensors[i], batch + tuple(tensors[i].shape[tensors[i].ndim - cores[i]:]))
                for i in mapped}
        outs = []
        for pos in itertools.product(*[range(b) for b in batch]):
            call = [full[i][pos] if i in full else a for i, a in enumerate(args)]
            outs.append(t(pyfunc(*call)))
        if not batch:
            return outs[0]
        stacked = F.stack(outs, 0)
        return stacked.reshape(batch + tuple(stacked.shape[1:]))

    return wrapper
