"""Differential rows generated from tables: every layer of ``ember.nn`` (train and eval mode) and every loss.

A layer row trains the layer for a few SGD steps on a fixed smooth loss of its outputs (inputs are leaves
that require grad, so their gradients are compared too); a loss row trains a Linear layer through the loss.
"""
from __future__ import annotations

import ember
import ember.nn.functional as F
from ember import nn, optim

from .harness import N_STEPS, Program, Row


def R(*shape):  # noqa: N802  (a float input of this shape)
    return lambda: ember.randn(*shape)


def I(high, *shape):  # noqa: E743, N802  (an int64 input in [0, high))
    return lambda: ember.randint(0, high, shape)


def _smooth(out):
    """A loss with non-trivial gradients for every float output (normalised outputs included)."""
    total = None
    for o in _float_leaves(out):
        term = (o.sin() * (o + 0.5)).mean()
        total = term if total is None else total + term
    return total


def _float_leaves(out):
    if isinstance(out, ember.Tensor):
        if out.is_floating_point():
            yield out
    elif isinstance(out, (tuple, list)):
        for o in out:
            yield from _float_leaves(o)


def _materialized(layer, inputs):
    layer(*[x() for x in inputs])  # lazy layers create their weights on the first call
    return layer


class _Containers(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(3, 4), nn.Tanh()])
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2)})
        self.scales = nn.ParameterList([nn.Parameter(ember.ones(2))])
        self.shifts = nn.ParameterDict({"b": nn.Parameter(ember.zeros(2))})

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.heads["a"](x) * self.scales[0] + self.shifts["b"]


def _call_attention(layer, x):
    return layer(x, x, x)


class _PoolUnpool(nn.Module):
    """MaxPool2d with indices, then MaxUnpool2d back to the input's size."""

    def __init__(self):
        super().__init__()
        self.pool, self.unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)

    def forward(self, x):
        return self.unpool(*self.pool(x), output_size=x.shape[-2:])


def _call_adaptive_softmax(layer, x):
    return layer(x, ember.tensor([0, 3, 5, 9, 7, 1]))


# (name, constructor, input makers, how to call the layer or None)
LAYERS = [
    ("Identity", nn.Identity, [R(4, 3)], None),
    ("Linear", lambda: nn.Linear(3, 5), [R(4, 3)], None),
    ("LazyLinear", lambda: _materialized(nn.LazyLinear(5), [R(4, 3)]), [R(4, 3)], None),
    ("Bilinear", lambda: nn.Bilinear(3, 2, 4), [R(4, 3), R(4, 2)], None),
    ("Flatten", nn.Flatten, [R(2, 3, 4)], None),
    ("Unflatten", lambda: nn.Unflatten(1, (2, 2)), [R(3, 4)], None),
    ("Sequential", lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), [R(5, 3)], None),
    ("ModuleList-ModuleDict-ParameterList-ParameterDict", _Containers, [R(5, 3)], None),
    ("ReLU", nn.ReLU, [R(4, 5)], None),
    ("ReLU-inplace", lambda: nn.ReLU(inplace=True), [R(4, 5)], None),
    ("ReLU6", nn.ReLU6, [R(4, 5)], None),
    ("LeakyReLU", lambda: nn.LeakyReLU(0.1), [R(4, 5)], None),
    ("LeakyReLU-inplace", lambda: nn.LeakyReLU(0.1, inplace=True), [R(4, 5)], None),
    ("ELU", nn.ELU, [R(4, 5)], None),
    ("SELU", nn.SELU, [R(4, 5)], None),
    ("CELU", nn.CELU, [R(4, 5)], None),
    ("GELU", nn.GELU, [R(4, 5)], None),
    ("GELU-tanh", lambda: nn.GELU("tanh"), [R(4, 5)], None),
    ("SiLU", nn.SiLU, [R(4, 5)], None),
    ("Sigmoid", nn.Sigmoid, [R(4, 5)], None),
    ("Tanh", nn.Tanh, [R(4, 5)], None),
    ("Softmax", lambda: nn.Softmax(1), [R(4, 5)], None),
    ("LogSoftmax", lambda: nn.LogSoftmax(1), [R(4, 5)], None),
    ("Softmin", lambda: nn.Softmin(1), [R(4, 5)], None),
    ("Softplus", nn.Softplus, [R(4, 5)], None),
    ("Hardtanh", nn.Hardtanh, [R(4, 5)], None),
    ("Mish", nn.Mish, [R(4, 5)], None),
    ("PReLU", lambda: nn.PReLU(3), [R(4, 3, 2)], None),
    ("Softsign", nn.Softsign, [R(4, 5)], None),
    ("Hardswish", nn.Hardswish, [R(4, 5)], None),
    ("Hardsigmoid", nn.Hardsigmoid, [R(4, 5)], None),
    ("LogSigmoid", nn.LogSigmoid, [R(4, 5)], None),
    ("GLU", nn.GLU, [R(4, 6)], None),
    ("Threshold", lambda: nn.Threshold(0.1, 20.0), [R(4, 5)], None),
    ("Tanhshrink", nn.Tanhshrink, [R(4, 5)], None),
    ("Hardshrink", nn.Hardshrink, [R(4, 5)], None),
    ("Softshrink", lambda: nn.Softshrink(0.3), [R(4, 5)], None),
    ("RReLU", nn.RReLU, [R(4, 5)], None),  # training: random slopes from the seeded generator
    ("Softmax2d", nn.Softmax2d, [R(2, 3, 2, 2)], None),
    ("LocalResponseNorm", lambda: nn.LocalResponseNorm(3, alpha=0.1), [R(2, 4, 3, 3)], None),
    ("LPPool2d", lambda: nn.LPPool2d(2, 2), [R(1, 2, 4, 4)], None),
    ("LPPool1d", lambda: nn.LPPool1d(2, 2), [R(2, 3, 6)], None),
    ("Unfold", lambda: nn.Unfold(2, padding=1), [R(1, 2, 3, 3)], None),
    ("Fold", lambda: nn.Fold((3, 3), 2), [R(1, 8, 4)], None),
    ("PairwiseDistance", nn.PairwiseDistance, [R(4, 5), R(4, 5)], None),
    ("CosineSimilarity", nn.CosineSimilarity, [R(4, 5), R(4, 5)], None),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(3), [R(6, 3)], None),
    ("BatchNorm1d-3d-input", lambda: nn.BatchNorm1d(3), [R(4, 3, 5)], None),
    ("BatchNorm1d-cumulative", lambda: nn.BatchNorm1d(3, momentum=None), [R(6, 3)], None),
    ("BatchNorm1d-no-stats", lambda: nn.BatchNorm1d(3, affine=False, track_running_stats=False), [R(6, 3)],
     None),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(3), [R(4, 3, 3, 3)], None),
    ("BatchNorm3d", lambda: nn.BatchNorm3d(2), [R(3, 2, 2, 2, 2)], None),
    ("LayerNorm", lambda: nn.LayerNorm(4), [R(3, 4)], None),
    ("RMSNorm", lambda: nn.RMSNorm(4), [R(3, 4)], None),
    ("GroupNorm", lambda: nn.GroupNorm(2, 4), [R(3, 4, 5)], None),
    ("Dropout", lambda: nn.Dropout(0.3), [R(6, 5)], None),
    ("Dropout-inplace", lambda: nn.Dropout(0.3, inplace=True), [R(6, 5)], None),
    ("Dropout1d", lambda: nn.Dropout1d(0.5), [R(4, 3, 5)], None),
    ("Dropout2d", lambda: nn.Dropout2d(0.5), [R(2, 3, 4, 4)], None),
    ("Dropout3d", lambda: nn.Dropout3d(0.5), [R(2, 3, 2, 2, 2)], None),
    ("AlphaDropout", lambda: nn.AlphaDropout(0.2), [R(6, 5)], None),
    ("FeatureAlphaDropout", lambda: nn.FeatureAlphaDropout(0.2), [R(2, 3, 4)], None),
    ("Embedding", lambda: nn.Embedding(10, 4), [I(10, 3, 5)], None),
    ("Embedding-padding", lambda: nn.Embedding(10, 4, padding_idx=0), [I(10, 3, 5)], None),
    ("Embedding-max_norm", lambda: nn.Embedding(10, 4, max_norm=1.0), [I(10, 3, 5)], None),
    ("Conv1d", lambda: nn.Conv1d(2, 3, 3), [R(2, 2, 8)], None),
    ("Conv2d", lambda: nn.Conv2d(2, 3, 3, padding=1), [R(2, 2, 6, 6)], None),
    # channels and sizes that take Winograd F(2x2, 3x3) in training (odd output sizes: partial tiles)
    ("Conv2d-winograd", lambda: nn.Conv2d(8, 8, 3, padding=1), [R(2, 8, 12, 12)], None),
    ("Conv2d-winograd-odd", lambda: nn.Conv2d(8, 9, 3), [R(1, 8, 15, 15)], None),
    ("Conv3d", lambda: nn.Conv3d(2, 2, 2), [R(1, 2, 4, 4, 4)], None),
    ("ConvTranspose1d", lambda: nn.ConvTranspose1d(2, 3, 3, stride=2), [R(2, 2, 5)], None),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(2, 3, 3, stride=2), [R(1, 2, 4, 4)], None),
    # few output channels: the shift-sum form; groups: transposed convolutions keep GEMM + col2im
    ("Conv2d-shift", lambda: nn.Conv2d(8, 1, 5, padding=2), [R(2, 8, 7, 6)], None),
    ("ConvTranspose2d-groups", lambda: nn.ConvTranspose2d(4, 4, 4, stride=2, padding=1, groups=2), [R(2, 4, 3, 3)],
     None),
    ("MaxPool1d", lambda: nn.MaxPool1d(2), [R(2, 3, 8)], None),
    ("MaxPool2d", lambda: nn.MaxPool2d(2), [R(2, 3, 6, 6)], None),
    # 8 channels, 12x12 outputs: Winograd; compiled, conv + bias + relu + pool become winograd_conv_pool
    ("Conv2d-ReLU-MaxPool2d", lambda: nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU(), nn.MaxPool2d(2)),
     [R(2, 8, 14, 14)], None),
    ("MaxPool3d", lambda: nn.MaxPool3d(2), [R(1, 2, 4, 4, 4)], None),
    ("MaxPool2d-MaxUnpool2d", _PoolUnpool, [R(2, 3, 5, 6)], None),
    ("AdaptiveAvgPool3d", lambda: nn.AdaptiveAvgPool3d((2, None, 3)), [R(1, 2, 4, 3, 5)], None),
    ("AdaptiveMaxPool3d", lambda: nn.AdaptiveMaxPool3d((2, 2, 3)), [R(1, 2, 4, 3, 5)], None),
    ("LPPool3d", lambda: nn.LPPool3d(2, 2), [R(1, 2, 4, 4, 4)], None),
    # fresh pseudo-random windows every step, from the seeded generator
    ("FractionalMaxPool2d", lambda: nn.FractionalMaxPool2d(2, output_ratio=0.6), [R(2, 3, 7, 8)], None),
    ("ConvTranspose3d", lambda: nn.ConvTranspose3d(2, 3, 2, stride=2), [R(1, 2, 2, 3, 2)], None),
    ("LazyConv2d", lambda: _materialized(nn.LazyConv2d(3, 3), [R(2, 2, 5, 5)]), [R(2, 2, 5, 5)], None),
    ("LazyBatchNorm2d", lambda: _materialized(nn.LazyBatchNorm2d(), [R(4, 3, 3, 3)]), [R(4, 3, 3, 3)], None),
    ("AdaptiveLogSoftmaxWithLoss", lambda: nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0),
     [R(6, 8)], _call_adaptive_softmax),
    ("AvgPool1d", lambda: nn.AvgPool1d(2), [R(2, 3, 8)], None),
    ("AvgPool2d", lambda: nn.AvgPool2d(2), [R(2, 3, 6, 6)], None),
    ("AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(3), [R(2, 3, 7)], None),
    ("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((2, 3)), [R(2, 3, 6, 7)], None),
    ("AdaptiveMaxPool1d", lambda: nn.AdaptiveMaxPool1d(3), [R(2, 3, 7)], None),
    ("AdaptiveMaxPool2d", lambda: nn.AdaptiveMaxPool2d(2), [R(2, 3, 6, 6)], None),
    ("Upsample", lambda: nn.Upsample(scale_factor=2), [R(1, 2, 3, 3)], None),
    ("Upsample-bilinear", lambda: nn.Upsample(scale_factor=2, mode="bilinear"), [R(1, 2, 3, 3)], None),
    ("UpsamplingNearest2d", lambda: nn.UpsamplingNearest2d(scale_factor=2), [R(1, 2, 3, 3)], None),
    ("UpsamplingBilinear2d", lambda: nn.UpsamplingBilinear2d(scale_factor=2), [R(1, 2, 3, 3)], None),
    ("RNN", lambda: nn.RNN(3, 4), [R(5, 2, 3)], None),
    ("LSTM-2-layers-dropout", lambda: nn.LSTM(3, 4, num_layers=2, dropout=0.3), [R(5, 2, 3)], None),
    # float32, hidden 16, batch 32: the compiled time loops (ops/rnn_loops), in two row blocks at 2+ threads
    # (the compiled step holds BLAS; eagerly the lingering hold)
    ("LSTM-compiled-loops", lambda: nn.LSTM(8, 16), [R(4, 32, 8)], None),
    ("GRU-batch_first", lambda: nn.GRU(3, 4, batch_first=True), [R(2, 5, 3)], None),
    ("RNNCell", lambda: nn.RNNCell(3, 4), [R(2, 3)], None),
    ("LSTMCell", lambda: nn.LSTMCell(3, 4), [R(2, 3)], None),
    ("GRUCell", lambda: nn.GRUCell(3, 4), [R(2, 3)], None),
    ("MultiheadAttention", lambda: nn.MultiheadAttention(8, 2, dropout=0.1), [R(5, 2, 8)], _call_attention),
    ("TransformerEncoderLayer", lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1),
     [R(5, 2, 8)], None),
    ("TransformerEncoder", lambda: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1), 2), [R(5, 2, 8)], None),
]


def _layer_program(ctor, makers, call, train):
    layer = ctor()
    layer.train(train)
    params = [p for p in layer.parameters() if p.requires_grad]
    opt = optim.SGD(params, lr=0.1) if params else None
    batches = []
    for _ in range(N_STEPS):
        xs = tuple(m() for m in makers)
        batches.append(tuple(x.requires_grad_() if x.is_floating_point() else x for x in xs))

    def step(*xs):
        if opt is not None:
            opt.zero_grad()
        hs = [x * 1.0 if x.requires_grad else x for x in xs]  # not leaves: in-place layers may write them
        out = call(layer, *hs) if call is not None else layer(*hs)
        loss = _smooth(out)
        loss.backward()
        if opt is not None:
            opt.step()
        return loss, out

    watch = [x for b in batches for x in b if x.requires_grad]
    return Program(step, batches, modules=[layer], optimizers=[opt] if opt else [], watch=watch)


class _GaussianOfOutputs(nn.Module):
    """GaussianNLLLoss with the mean and log-variance both predicted (column 0 and 1 of the outputs)."""

    def __init__(self):
        super().__init__()
        self.loss = nn.GaussianNLLLoss()

    def forward(self, out, target):
        return self.loss(out[:, :1], target, out[:, 1:].exp())


def _ce_probs(n, c):
    return lambda: F.softmax(ember.randn(n, c), 1)


# (name, loss, number of outputs of the Linear in front, target maker, how the outputs meet the loss)
LOSSES = [
    ("CrossEntropyLoss", nn.CrossEntropyLoss(), 4, I(4, 6), None),
    ("CrossEntropyLoss-weight-smoothing-ignore", nn.CrossEntropyLoss(
        weight=ember.tensor([1.0, 2.0, 0.5, 1.0]), label_smoothing=0.1, ignore_index=1), 4, I(4, 6), None),
    ("CrossEntropyLoss-probabilities", nn.CrossEntropyLoss(), 4, _ce_probs(6, 4), None),
    ("NLLLoss", nn.NLLLoss(), 4, I(4, 6), lambda o: F.log_softmax(o, 1)),
    ("MSELoss", nn.MSELoss(), 2, R(6, 2), None),
    ("L1Loss", nn.L1Loss(), 2, R(6, 2), None),
    ("SmoothL1Loss", nn.SmoothL1Loss(beta=0.5), 2, R(6, 2), None),
    ("HuberLoss", nn.HuberLoss(delta=0.5), 2, R(6, 2), None),
    ("BCELoss", nn.BCELoss(), 2, lambda: ember.rand(6, 2), lambda o: o.sigmoid()),
    ("BCEWithLogitsLoss", nn.BCEWithLogitsLoss(pos_weight=ember.tensor([1.0, 3.0])), 2,
     lambda: ember.rand(6, 2), None),
    ("KLDivLoss", nn.KLDivLoss(reduction="batchmean"), 4, _ce_probs(6, 4), lambda o: F.log_softmax(o, 1)),
    ("SoftMarginLoss", nn.SoftMarginLoss(), 2, lambda: ember.randn(6, 2).sign(), None),
    ("PoissonNLLLoss", nn.PoissonNLLLoss(), 2, lambda: ember.rand(6, 2) * 3, None),
    ("HingeEmbeddingLoss", nn.HingeEmbeddingLoss(margin=0.5), 2, lambda: ember.randn(6, 2).sign(), None),
    ("MultiMarginLoss", nn.MultiMarginLoss(p=2, margin=0.5), 4, I(4, 6), None),
    ("MultiLabelMarginLoss", nn.MultiLabelMarginLoss(), 4,
     lambda: ember.tensor([[3, 0, -1, 1], [2, -1, 0, 0], [0, 1, 2, 3], [1, 3, -1, 2], [-1, 0, 1, 2], [2, 1, -1, 3]]),
     None),
    ("MultiLabelSoftMarginLoss", nn.MultiLabelSoftMarginLoss(), 4, lambda: (ember.rand(6, 4) > 0.5).float(),
     None),
    ("GaussianNLLLoss", _GaussianOfOutputs(), 2, R(6, 1), None),
    ("TripletMarginLoss", nn.TripletMarginLoss(margin=2.0, swap=True), 4, R(6, 4), lambda o: (o, o.flip(0))),
]
PAIR_LOSSES = [  # losses of two inputs and a target of +-1
    ("MarginRankingLoss", nn.MarginRankingLoss(margin=0.1), lambda a, b: (a[:, 0], b[:, 0])),
    ("CosineEmbeddingLoss", nn.CosineEmbeddingLoss(margin=0.1), lambda a, b: (a, b)),
]


def _loss_program(loss_fn, n_out, target, prep, train):
    model = nn.Linear(3, n_out)
    loss_fn.train(train)
    opt = optim.SGD(model.parameters(), lr=0.1)
    batches = [(ember.randn(6, 3), target()) for _ in range(N_STEPS)]

    def step(x, t):
        opt.zero_grad()
        out = model(x)
        inputs = prep(out) if prep else out
        # a prep may give several inputs (a triplet's anchor and positive; the target is its negative)
        loss = loss_fn(*inputs, t) if isinstance(inputs, tuple) else loss_fn(inputs, t)
        loss.backward()
        opt.step()
        return loss

    return Program(step, batches, modules=[model], optimizers=[opt])


def _pair_program(loss_fn, split, train):
    model = nn.Linear(3, 4)
    loss_fn.train(train)
    opt = optim.SGD(model.parameters(), lr=0.1)
    batches = [(ember.randn(6, 3), ember.randn(6, 3), ember.randn(6).sign()) for _ in range(N_STEPS)]

    def step(x1, x2, y):
        opt.zero_grad()
        loss = loss_fn(*split(model(x1), model(x2)), y)
        loss.backward()
        opt.step()
        return loss

    return Program(step, batches, modules=[model], optimizers=[opt])


def _mode(train):
    return "train" if train else "eval"


ROWS = [Row(f"layer-{name}-{_mode(t)}", (lambda c=c, m=m, call=call, t=t: _layer_program(c, m, call, t)))
        for name, c, m, call in LAYERS for t in (True, False)]
ROWS += [Row(f"loss-{name}-{_mode(t)}", (lambda f=f, n=n, tg=tg, p=p, t=t: _loss_program(f, n, tg, p, t)))
         for name, f, n, tg, p in LOSSES for t in (True, False)]
ROWS += [Row(f"loss-{name}-{_mode(t)}", (lambda f=f, s=s, t=t: _pair_program(f, s, t)))
         for name, f, s in PAIR_LOSSES for t in (True, False)]
