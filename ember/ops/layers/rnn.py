"""Layer ops: recurrent layers over a whole sequence (all layers and directions of one nn.LSTM/GRU/RNN call).

``lstm(x[, h0, c0], *weights; hidden_size, num_layers, bidirectional, bias, has_state)`` -> (y, h_n, c_n);
``gru(x[, h0], *weights; ...)`` and ``rnn(x[, h0], *weights; ..., nonlinearity)`` -> (y, h_n). ``x`` is
(T, B, I) (batch_first and unbatched inputs are transposed / unsqueezed around the node), ``weights`` per
layer and direction ``w_ih, w_hh[, b_ih, b_hh]`` in PyTorch's gate order; ``has_state``: whether initial
states are inputs (else zeros). Eagerly (and in training, where dropout between layers makes it primitives)
the module's composite runs. ONNX: one ``LSTM`` / ``GRU`` / ``RNN`` per layer (direction "bidirectional"),
weights reordered to ONNX's gate order at export.
"""
from __future__ import annotations

import numpy as np

from .._core import Aval, Unsupported, register_layer, register_lowering, unsupported
from .._rules import differ

_GATES = {"lstm": 4, "gru": 3, "rnn": 1}
# ONNX gate order from PyTorch's: LSTM i f g o -> i o f c; GRU r z n -> z r h
_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "rnn": (0,)}


def _rnn_rule(kind):
    def rule(x, *rest, hidden_size, num_layers, bidirectional, bias, has_state, nonlinearity=None):
        dirs = 2 if bidirectional else 1
        if x.ndim != 3:
            raise RuntimeError(f"{kind}: expected a (T, B, I) input, got shape {x.shape}")
        n_states = (2 if kind == "lstm" else 1) if has_state else 0
        per = 4 if bias else 2
        if len(rest) != n_states + num_layers * dirs * per:
            raise RuntimeError(f"{kind}: expected {n_states} states and {num_layers * dirs * per} weights, got "
                               f"{len(rest)} inputs after x")
        w_ih = rest[n_states]
        if differ(w_ih.shape[1], x.shape[2]):
            raise RuntimeError(f"{kind}: input size {x.shape[2]} does not match weight_ih_l0 {w_ih.shape}")
        y = Aval((x.shape[0], x.shape[1], dirs * hidden_size), x.dtype, x.device)
        h = Aval((num_layers * dirs, x.shape[1], hidden_size), x.dtype, x.device)
        return (y, h, h) if kind == "lstm" else (y, h)

    return rule


for _kind in _GATES:
    register_layer(_kind, _rnn_rule(_kind), n_out=3 if _kind == "lstm" else 2)


def _weights(ctx, node, kind, start, layer, dirs, bias):
    """(W, R, B) initializers for one layer: directions stacked, gates in ONNX's order."""
    per = 4 if bias else 2
    order = _ORDER[kind]
    ws, rs, bs = [], [], []
    for d in range(dirs):
        k = start + (layer * dirs + d) * per
        arrays = [ctx.value(node, k + j) for j in range(per)]
        if any(a is None for a in arrays):
            raise Unsupported(f"{kind} weights that are not constants", "export with export_params=True")
        blocks = [np.split(np.asarray(a), _GATES[kind]) for a in arrays]
        ws.append(np.concatenate([blocks[0][g] for g in order]))
        rs.append(np.concatenate([blocks[1][g] for g in order]))
        if bias:
            bs.append(np.concatenate([blocks[2][g] for g in order] + [blocks[3][g] for g in order]))
    b = ctx.const(np.stack(bs)) if bias else ""
    return ctx.const(np.stack(ws)), ctx.const(np.stack(rs)), b


def _rnn_onnx(kind):
    op_type = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[kind]

    def lower(ctx, node):
        a = node.attrs
        dirs, hsz, layers = (2 if a["bidirectional"] else 1), int(a["hidden_size"]), int(a["num_layers"])
        n_states = (2 if kind == "lstm" else 1) if a["has_state"] else 0
        extra = {"direction": "bidirectional" if dirs == 2 else "forward", "hidden_size": hsz}
        if kind == "gru":
            extra["linear_before_reset"] = 1  # PyTorch's GRU: r * (W_hn h + b_hn)
        if kind == "rnn":
            extra["activations"] = ["Relu" if a.get("nonlinearity") == "relu" else "Tanh"] * dirs
        x, hs, cs = ctx.input(node, 0), [], []
        for layer in range(layers):
            w, r, b = _weights(ctx, node, kind, n_states + 1, layer, dirs, a["bias"])
            ins = [x, w, r, b, ""]
            for s in range(n_states):  # this layer's rows of h0 (and c0)
                rows = ctx.emit("Slice", [ctx.input(node, 1 + s), ctx.ints([layer * dirs]),
                                          ctx.ints([(layer + 1) * dirs]), ctx.ints([0])])
                ins.append(rows)
            outs = ctx.emit(op_type, ins, 3 if kind == "lstm" else 2, **extra)
            # Y (T, D, B, H) -> (T, B, D*H): the next layer's input
            y = ctx.emit("Transpose", [outs[0]], perm=[0, 2, 1, 3])
            x = ctx.emit("Reshape", [y, ctx.ints([0, 0, -1])])
            hs.append(outs[1])
            if kind == "lstm":
                cs.append(outs[2])
        ctx.emit("Identity", [x], [ctx.output(node, 0)])
        ctx.emit("Concat", hs, [ctx.output(node, 1)], axis=0)
        if kind == "lstm":
            ctx.emit("Concat", cs, [ctx.output(node, 2)], axis=0)

    return lower


for _kind in _GATES:
    register_lowering(_kind, "onnx", _rnn_onnx(_kind))

# TFLite
for _kind in _GATES:
    unsupported(_kind, "tflite", "UNIDIRECTIONAL_SEQUENCE_LSTM / an unrolled form is not written yet (nor for its "
                "decomposition, lstm_seq): export recurrent models to ONNX or the ember format")
