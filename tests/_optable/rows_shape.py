"""Op-table rows: movement and layout (view, reshape, permute, expand, cat, split, pad, ...)."""

from __future__ import annotations

import numpy as np

import ember.nn.functional  # noqa: F401  (ember.nn for the pad row)

from .spec import F, Row

X3 = [(F("a", "b", "c"),)]


def _view(L, x):
    return x.view(-1), x.view(x.shape[0], -1), x.view((x.shape[1], x.shape[0], x.shape[2])), x.view_as(x)


def _view_ref(x):
    return x.reshape(-1), x.reshape(x.shape[0], -1), x.reshape(x.shape[1], x.shape[0], x.shape[2]), x


def _view_noncontig(L, x):
    t = x.transpose(0, 1)  # (b, a, c): merging the last two dims would need a copy, the first two can't...
    return t.view(t.shape[0], t.shape[1], 1, t.shape[2]), t.unsqueeze(0).view(-1, t.shape[1], t.shape[2])


def _reshape(L, x):
    return x.reshape(-1), L.reshape(x, (x.shape[0], -1)), x.transpose(0, 1).reshape(-1), x.reshape_as(x)


def _reshape_ref(x):
    return x.reshape(-1), x.reshape(x.shape[0], -1), x.swapaxes(0, 1).reshape(-1), x


def _squeeze(L, x):
    return (
        x.squeeze(),
        x.squeeze(1),
        L.squeeze(x, -1),
        x.squeeze(0),
        x.unsqueeze(0),
        x.unsqueeze(-1),
        L.unsqueeze(x, 2),
    )


def _squeeze_ref(x):
    return (
        np.squeeze(x),
        np.squeeze(x, 1),
        np.squeeze(x, -1),
        x,
        x[None],
        x[..., None],
        np.expand_dims(x, 2),
    )


def _transpose(L, x):
    return (
        x.transpose(0, 2),
        L.transpose(x, -1, 1),
        x.swapaxes(0, 1),
        x.mT,
        x.permute(2, 0, 1),
        L.permute(x, (1, 2, 0)),
        x.movedim(0, -1),
        x.T,
    )


def _transpose_ref(x):
    return (
        x.swapaxes(0, 2),
        x.swapaxes(-1, 1),
        x.swapaxes(0, 1),
        x.swapaxes(-1, -2),
        x.transpose(2, 0, 1),
        x.transpose(1, 2, 0),
        np.moveaxis(x, 0, -1),
        x.transpose(2, 1, 0),
    )


def _expand(L, x):
    return (
        x.expand(3, -1, x.shape[1]),
        x.expand_as(L.zeros(2, 3, x.shape[0], x.shape[1], dtype=x.dtype)),
        L.broadcast_to(x, (4, x.shape[0], x.shape[1])),
    )


def _expand_ref(x):
    return (
        np.broadcast_to(x, (3,) + x.shape),
        np.broadcast_to(x, (2, 3) + x.shape),
        np.broadcast_to(x, (4,) + x.shape),
    )


def _split(L, x):
    return (
        *x.split(2, 1),
        *L.split(x, [1, x.shape[1] - 1], 1),
        *x.chunk(2, 0),
        *x.unbind(1),
        *L.tensor_split(x, 3, 1),
        *x.split(2, -1),
    )


def _split_ref(x):
    n = x.shape[1]
    parts = [x[:, i : i + 2] for i in range(0, n, 2)]
    h = -(-x.shape[0] // 2)
    chunks = [x[:h], x[h:]] if x.shape[0] > h else [x]
    k = 3
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    bounds = np.cumsum([0] + sizes)
    ts = [x[:, bounds[i] : bounds[i + 1]] for i in range(k)]
    return (*parts, x[:, :1], x[:, 1:], *chunks, *[x[:, i] for i in range(n)], *ts, *parts)


def _pad(L, x):
    F_ = L.nn.functional
    return (
        F_.pad(x, (1, 2)),
        F_.pad(x, (1, 0, 0, 2), value=1.5),
        F_.pad(x, (-1, 1)),
        F_.pad(x, (1, 1), mode="reflect"),
        F_.pad(x, (2, 1), mode="replicate"),
        F_.pad(x, (1, 2), mode="circular"),
    )


def _pad_ref(x):
    return (
        np.pad(x, ((0, 0), (1, 2))),
        np.pad(x, ((0, 2), (1, 0)), constant_values=1.5),
        np.pad(x[:, 1:], ((0, 0), (0, 1))),
        np.pad(x, ((0, 0), (1, 1)), mode="reflect"),
        np.pad(x, ((0, 0), (2, 1)), mode="edge"),
        np.pad(x, ((0, 0), (1, 2)), mode="wrap"),
    )


def _pad_torch(T, x):
    x3 = x[None]  # torch's non-constant modes want a batch dim
    F_ = T.nn.functional
    return (
        F_.pad(x, (1, 2)),
        F_.pad(x, (1, 0, 0, 2), value=1.5),
        F_.pad(x, (-1, 1)),
        F_.pad(x3, (1, 1), mode="reflect")[0],
        F_.pad(x3, (2, 1), mode="replicate")[0],
        F_.pad(x3, (1, 2), mode="circular")[0],
    )


ROWS = [
    Row("view", _view, _view_ref, X3 + [(F("a", 0, "b"),)], prims=("reshape",), covers=("view", "view_as")),
    Row(
        "view_noncontiguous",
        _view_noncontig,
        lambda x: (
            x.swapaxes(0, 1)[:, :, None, :],
            x.swapaxes(0, 1)[None].reshape(-1, x.shape[0], x.shape[2]),
        ),
        X3,
        prims=("permute", "reshape"),
        covers=(),
    ),
    Row(
        "reshape",
        _reshape,
        _reshape_ref,
        [(F("a", "b"),), (F("a", "b", 0),)],
        prims=("reshape",),
        covers=("reshape", "reshape_as"),
    ),
    Row(
        "reshape_0d",
        lambda L, x: (x.reshape(1, 1), x.reshape(-1), x.view(())),
        lambda x: (x.reshape(1, 1), x.reshape(-1), x),
        [(F(),)],
        prims=("reshape",),
        covers=(),
    ),
    Row(
        "flatten",
        lambda L, x: (
            x.flatten(),
            L.flatten(x, 1),
            x.flatten(0, 1),
            x.unflatten(1, (1, -1)),
            L.unflatten(x, -1, (x.shape[-1], 1)),
        ),
        lambda x: (
            x.reshape(-1),
            x.reshape(x.shape[0], -1),
            x.reshape(-1, x.shape[2]),
            x.reshape(x.shape[0], 1, x.shape[1], x.shape[2]),
            x[..., None],
        ),
        X3,
        prims=("reshape",),
        covers=("flatten", "unflatten"),
    ),
    Row(
        "flatten_0d",
        lambda L, x: x.flatten(),
        lambda x: x.reshape(1),
        [(F(),)],
        prims=("reshape",),
        covers=(),
    ),
    Row(
        "squeeze",
        _squeeze,
        _squeeze_ref,
        [(F("a", 1, "b", 1),)],
        prims=("reshape",),
        covers=("squeeze", "unsqueeze"),
    ),
    Row(
        "squeeze_0d",
        lambda L, x: (x.squeeze(), x.unsqueeze(0), x.unsqueeze(-1)),
        lambda x: (x, x[None], x[None]),
        [(F(),)],
        prims=("reshape",),
        covers=(),
    ),
    Row(
        "transpose",
        _transpose,
        _transpose_ref,
        X3,
        prims=("permute",),
        covers=("transpose", "swapaxes", "swapdims", "permute", "movedim", "mT", "T"),
    ),
    Row(
        "t",
        lambda L, x: (x.t(), L.t(x), x.T),
        lambda x: (x.T,) * 3,
        [(F("a", "b"),), (F("a"),), (F(),)],
        prims=(),
        covers=("t",),
    ),
    Row(
        "expand",
        _expand,
        _expand_ref,
        [(F("a", 1),), (F(1, 1),)],
        prims=("expand",),
        covers=("expand", "expand_as", "broadcast_to"),
    ),
    Row(
        "broadcast_tensors",
        lambda L, a, b: L.broadcast_tensors(a, b),
        lambda a, b: np.broadcast_arrays(a, b),
        [(F("a", 1), F("b")), (F(), F("a"))],
        prims=("expand",),
    ),
    Row(
        "repeat",
        lambda L, x: (x.repeat(2, 3), x.repeat(2, 1, 2), L.tile(x, (2,)), x.tile((2, 1, 1))),
        lambda x: (np.tile(x, (2, 3)), np.tile(x, (2, 1, 2)), np.tile(x, (1, 2)), np.tile(x, (2, 1, 1))),
        [(F("a", "b"),), (F(1, "a"),)],
        prims=("expand", "reshape"),
        covers=("repeat", "tile"),
    ),
    Row(
        "repeat_interleave",
        lambda L, x: (x.repeat_interleave(2, 1), L.repeat_interleave(x, 3)),
        lambda x: (np.repeat(x, 2, 1), np.repeat(x.reshape(-1), 3)),
        [(F("a", "b"),)],
        prims=("expand",),
    ),
    Row(
        "flip",
        lambda L, x: (x.flip(0), L.flip(x, (0, 2)), L.fliplr(x), L.flipud(x)),
        lambda x: (x[::-1], x[::-1, :, ::-1], x[:, ::-1], x[::-1]),
        X3,
        prims=("getitem",),
        covers=("flip", "fliplr", "flipud"),
    ),
    Row(
        "roll",
        lambda L, x: (x.roll(1, 0), L.roll(x, (2, -1), (1, 2)), x.roll(3), x.roll(-5, -1)),
        lambda x: (np.roll(x, 1, 0), np.roll(x, (2, -1), (1, 2)), np.roll(x, 3), np.roll(x, -5, -1)),
        X3,
        prims=("cat", "getitem"),
    ),
    Row(
        "narrow",
        lambda L, x: (x.narrow(1, 1, 1), L.narrow(x, -1, 0, 2), x.narrow(0, -1, 1)),
        lambda x: (x[:, 1:2], x[..., 0:2], x[-1:]),
        X3,
        prims=("getitem",),
    ),
    Row(
        "cat",
        lambda L, a, b: (
            L.cat([a, b], 0),
            L.cat((a, b, a), -1),
            L.concat([a, b]),
            L.concatenate([a, b], 0),
            L.cat([a], 1),
            L.cat([a, L.zeros(0, dtype=a.dtype)]),
        ),
        lambda a, b: (
            np.concatenate([a, b]),
            np.concatenate([a, b, a], -1),
            np.concatenate([a, b]),
            np.concatenate([a, b]),
            a,
            a,
        ),
        [(F("a", "b"), F("a", "b")), (F(0, "b"), F(0, "b")), (F(2, 0), F(2, 0))],
        prims=("cat",),
        covers=("cat", "concat", "concatenate"),
    ),
    Row(
        "cat_promote",
        lambda L, a: L.cat([a, (a > 0).long()]),
        lambda a: np.concatenate([a, (a > 0) * 1.0]),
        [(F("a", "b"),)],
        prims=("cat",),
        covers=(),
    ),
    Row(
        "stack",
        lambda L, a, b: (L.stack([a, b]), L.stack((a, b, a), -1), L.hstack([a, b]), L.vstack([a, b])),
        lambda a, b: (np.stack([a, b]), np.stack([a, b, a], -1), np.hstack([a, b]), np.vstack([a, b])),
        [(F("a", "b"), F("a", "b")), (F("a"), F("a")), (F(0, "a"), F(0, "a"))],
        prims=("cat", "reshape"),
        covers=("stack", "hstack", "vstack"),
    ),
    Row(
        "stack_0d",
        lambda L, a, b: L.stack([a, b]),
        lambda a, b: np.stack([a, b]),
        [(F(), F())],
        prims=("cat",),
        covers=(),
    ),
    Row(
        "split",
        _split,
        _split_ref,
        [(F(3, 5),), (F(4, 4),)],
        prims=("getitem",),
        covers=("split", "chunk", "unbind", "tensor_split"),
    ),
    Row(
        "atleast",
        lambda L, x: (L.atleast_1d(x), L.atleast_2d(x)),
        lambda x: (np.atleast_1d(x), np.atleast_2d(x)),
        [(F(),), (F("a"),), (F("a", "b"),)],
        prims=(),
        covers=("atleast_1d", "atleast_2d"),
    ),
    Row(
        "contiguous_clone",
        lambda L, x: (x.t().contiguous(), x.clone(), L.clone(x), x.contiguous()),
        lambda x: (x.T, x, x, x),
        [(F("a", "b"),), (F(0, "a"),)],
        prims=("copy", "permute"),
        covers=("contiguous", "clone"),
    ),
    Row("pad", _pad, _pad_ref, [(F("a", "b"),)], prims=("pad", "getitem"), torch_fn=_pad_torch),
    Row(
        "to_device",
        lambda L, x: L.ops.apply("to_device", x, device="cpu"),
        lambda x: x,
        [(F("a", "b"),)],
        prims=("to_device",),
        covers=(),
        torch_fn=lambda T, x: x.to("cpu"),
    ),
]
