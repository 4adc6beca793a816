"""Layer ops: recurrent layers over a whole sequence (all layers and directions of one nn.LSTM/GRU/RNN call).

``lstm(x[, h0, c0], *weights; hidden_size, num_layers, bidirectional, bias, has_state)`` -> (y, h_n, c_n);
``gru(x[, h0], *weights; ...)`` and ``rnn(x[, h0], *weights; ..., nonlinearity)`` -> (y, h_n). ``x`` is
(T, B, I) (batch_first and unbatched inputs are transposed / unsqueezed around the node), ``weights`` per
layer and direction ``w_ih, w_hh[, b_ih, b_hh]`` in PyTorch's gate order; ``has_state``: whether initial
states are inputs (else zeros). Eagerly (and in training, where dropout between layers makes it primitives)
the module's composite runs. ONNX: one ``LSTM`` / ``GRU`` / ``RNN`` per layer (direction "bidirectional"),
weights reordered to ONNX's gate order at export. The executors run a node as its recorded decomposition
(the recurrence unrolled over the example's steps) or, when the sequence length is dynamic (an exported program
at any length), as its run-time kernel: the lowering ``"executor"``, ``fn(xp, *arrays, **attrs) -> (y, h_n[,
c_n])``, a loop over time written with ``xp`` (the LSTM's is the fused ``lstm_seq`` kernel).
"""
from __future__ import annotations

import numpy as np

from .._core import Aval, Unsupported, register_layer, register_lowering
from .._rules import differ
from ..nn import relu_array
from ..rnn import _lstm_seq_fwd

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


# -- the run-time kernel: every layer and direction over however many steps ``x`` has (PyTorch's formulas, the
# same as the eager composite's cells)
def _sigmoid(xp, z):
    return 0.5 * xp.tanh(0.5 * z) + 0.5


def _recur(xp, kind, gi, h, c, w_hh, b_hh, relu):
    """One direction over the (T, B, G*H) input projections ``gi``; returns (outputs (T, B, H), h, c)."""
    if kind == "lstm":
        xw = gi if b_hh is None else gi + b_hh
        seq = _lstm_seq_fwd(xp, xw, w_hh, h, c)
        return seq[0], seq[0, -1], seq[1, -1]
    out = xp.empty(gi.shape[:2] + (h.shape[-1],), dtype=gi.dtype)
    w_t = xp.ascontiguousarray(w_hh.T)
    for t in range(gi.shape[0]):
        gh = h @ w_t if b_hh is None else h @ w_t + b_hh
        if kind == "rnn":
            z = gi[t] + gh
            h = relu_array(xp, z) if relu else xp.tanh(z)
        else:  # gru: r, z from both projections, n = tanh(gi_n + r * gh_n), h = n + z * (h - n)
            i_r, i_z, i_n = xp.split(gi[t], 3, axis=-1)
            h_r, h_z, h_n = xp.split(gh, 3, axis=-1)
            r, z = _sigmoid(xp, i_r + h_r), _sigmoid(xp, i_z + h_z)
            n = xp.tanh(i_n + r * h_n)
            h = n + z * (h - n)
        out[t] = h
    return out, h, None


def _rnn_kernel(kind):
    def run(xp, x, *rest, hidden_size, num_layers, bidirectional, bias, has_state, nonlinearity=None):
        dirs, per = (2 if bidirectional else 1), (4 if bias else 2)
        n_states = (2 if kind == "lstm" else 1) if has_state else 0
        if n_states:
            h0, c0 = rest[0], (rest[1] if kind == "lstm" else None)
        else:
            h0 = xp.zeros((num_layers * dirs, x.shape[1], hidden_size), dtype=x.dtype)
            c0 = h0 if kind == "lstm" else None
        weights, hs, cs = rest[n_states:], [], []
        for layer in range(num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                w_ih, w_hh, b_ih, b_hh = (weights[k * per:(k + 1) * per] + (None, None))[:4]
                gi = x @ w_ih.T if b_ih is None else x @ w_ih.T + b_ih
                gi = gi[::-1] if d else gi
                out, h, c = _recur(xp, kind, gi, h0[k], None if c0 is None else c0[k], w_hh, b_hh,
                                   nonlinearity == "relu")
                outs.append(out[::-1] if d else out)
                hs.append(h)
                cs.append(c)
            x = outs[0] if dirs == 1 else xp.concatenate(outs, axis=-1)
        x = xp.ascontiguousarray(x)
        return (x, xp.stack(hs), xp.stack(cs)) if kind == "lstm" else (x, xp.stack(hs))

    return run


for _kind in _GATES:
    register_lowering(_kind, "executor", _rnn_kernel(_kind))

# TFLite: unrolled over the (static) sequence: the input projection of every step is one FULLY_CONNECTED, then
# per step FULLY_CONNECTED (recurrent weights), ADD, LOGISTIC / TANH, MUL; GRU has no TFLite builtin and the
# sequence builtins lack PyTorch's GRU reset form, so all three kinds are written the same way.
class _Step:
    """Builds one layer-direction's steps; ``h`` / ``c`` are tensor indices or None (zeros)."""

    def __init__(self, ctx, kind, hsz, dtype, batch, nonlinearity):
        self.ctx, self.kind, self.hsz, self.dtype, self.batch = ctx, kind, hsz, dtype, batch
        self.act = "RELU" if nonlinearity == "relu" else "TANH"
        self.consts: dict = {}  # id(array) -> (array, tensor): the array is kept so its id stays unique

    def shared(self, array):
        """One constant tensor per weight array, shared by every step."""
        key = id(array)
        if key not in self.consts:
            self.consts[key] = (array, self.ctx.const(array))
        return self.consts[key][1]

    def t(self, width):
        return self.ctx.temp((self.batch, width), self.dtype)

    def op(self, name, ins, width=None, opts=None):
        return self.ctx.emit(name, ins, [self.t(width or self.hsz)], opts)

    def add(self, a, b):
        return self.op("ADD", [a, b], opts=self.ctx.options("Add"))

    def mul(self, a, b):
        return self.op("MUL", [a, b], opts=self.ctx.options("Mul"))

    def split(self, x, n):
        outs = [self.t(self.hsz) for _ in range(n)]
        self.ctx.emit("SPLIT", [self.ctx.scalar(1, "int32"), x], outs, self.ctx.options("Split", numSplits=n))
        return outs

    def run(self, xp, h, c, w_hh, b_hh):
        """One step from ``xp`` (the input projection, (B, G*H)); returns (h, c)."""
        ctx, g = self.ctx, _GATES[self.kind] * self.hsz
        if h is None:  # zero state: the recurrent projection is its bias alone
            hp = None if b_hh is None else self.shared(b_hh)
        else:
            hp = self.op("FULLY_CONNECTED", [h, self.shared(w_hh), self.shared(b_hh) if b_hh is not None else -1],
                         g, ctx.options("FullyConnected"))
        if self.kind == "rnn":
            return self.op(self.act, [xp if hp is None else self.op("ADD", [xp, hp], g, ctx.options("Add"))]), None
        if self.kind == "lstm":
            gates = xp if hp is None else self.op("ADD", [xp, hp], g, ctx.options("Add"))
            i, f, cand, o = self.split(gates, 4)
            i, f, o = (self.op("LOGISTIC", [v]) for v in (i, f, o))
            ig = self.mul(i, self.op("TANH", [cand]))
            c = ig if c is None else self.add(self.mul(f, c), ig)
            return self.mul(o, self.op("TANH", [c])), c
        xr, xz, xn = self.split(xp, 3)  # gru: r, z, n with r applied to the recurrent n projection (bias included)
        if h is not None:
            hr, hz, hn = self.split(hp, 3)
        else:  # zero state: the recurrent projections are the bias's thirds (constants)
            hr, hz, hn = (None,) * 3 if b_hh is None else (ctx.const(p.copy()) for p in np.split(b_hh, 3))
        r, z = (self.op("LOGISTIC", [xv if hv is None else self.add(xv, hv)]) for xv, hv in ((xr, hr), (xz, hz)))
        n = self.op("TANH", [xn if hn is None else self.add(xn, self.mul(r, hn))])
        diff = self.op("SUB", [h, n], opts=ctx.options("Sub")) if h is not None else self.op("NEG", [n])
        return self.add(n, self.mul(z, diff)), None


def _rnn_tflite(kind):
    def lower(ctx, node):
        a, v = node.attrs, node.inputs[0]
        steps, batch, _ = v.shape
        if steps is None:
            raise ctx.error(f"{kind} is written for TFLite unrolled over the sequence, which needs a static "
                            "sequence length; export with a fixed length (no dynamic dim 0 of a (T, B, I) input, "
                            "dim 1 with batch_first), or to ONNX / the ember format")
        dirs, hsz, layers = (2 if a["bidirectional"] else 1), int(a["hidden_size"]), int(a["num_layers"])
        n_states, per = ((2 if kind == "lstm" else 1) if a["has_state"] else 0), (4 if a["bias"] else 2)
        dtype = v.dtype
        ins = ctx.inputs(node)
        init = []
        for s_ in range(n_states):  # (L*D, B, H) -> L*D tensors of (B, H)
            rows = [ctx.temp((batch, hsz), dtype) for _ in range(layers * dirs)]
            ctx.emit("UNPACK", [ins[1 + s_]], rows, ctx.options("Unpack", num=layers * dirs, axis=0))
            init.append(rows)
        step = _Step(ctx, kind, hsz, dtype, batch, a.get("nonlinearity"))
        x, finals_h, finals_c = ins[0], [], []
        for layer in range(layers):
            per_dir = []
            for d in range(dirs):
                k = n_states + 1 + (layer * dirs + d) * per
                w = [ctx.value(node, k + j) for j in range(per)]
                if any(arr is None for arr in w):
                    raise Unsupported(f"{kind} weights that are not constants", "export with the weights as "
                                      "parameters")
                b_ih, b_hh = (w[2], w[3]) if a["bias"] else (None, None)
                g = _GATES[kind] * hsz
                xp = ctx.emit("FULLY_CONNECTED", [x, ctx.const(w[0]), ctx.const(b_ih) if b_ih is not None else -1],
                              [ctx.temp((steps, batch, g), dtype)], ctx.options("FullyConnected", keepNumDims=True))
                xps = [ctx.temp((batch, g), dtype) for _ in range(steps)]
                ctx.emit("UNPACK", [xp], xps, ctx.options("Unpack", num=steps, axis=0))
                h = init[0][layer * dirs + d] if n_states else None
                c = init[1][layer * dirs + d] if kind == "lstm" and n_states else None
                outs = [None] * steps
                for t in (range(steps) if d == 0 else reversed(range(steps))):
                    h, c = step.run(xps[t], h, c, w[1], b_hh)
                    outs[t] = h
                per_dir.append(ctx.emit("PACK", outs, [ctx.temp((steps, batch, hsz), dtype)],
                                        ctx.options("Pack", valuesCount=steps, axis=0)))
                finals_h.append(h)
                finals_c.append(c)
            x = per_dir[0] if dirs == 1 else ctx.emit("CONCATENATION", per_dir, [ctx.temp(
                (steps, batch, dirs * hsz), dtype)], ctx.options("Concatenation", axis=2))
        ctx.alias(node, x)
        ctx.emit("PACK", finals_h, [ctx.output(node, 1)], ctx.options("Pack", valuesCount=len(finals_h), axis=0))
        if kind == "lstm":
            ctx.emit("PACK", finals_c, [ctx.output(node, 2)], ctx.options("Pack", valuesCount=len(finals_c), axis=0))

    return lower


for _kind in _GATES:
    register_lowering(_kind, "tflite", _rnn_tflite(_kind))
