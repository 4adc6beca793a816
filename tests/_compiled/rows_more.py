"""Differential rows for what later work added: the layers the first tables miss (EmbeddingBag, Transformer,
decoder layers, pixel shuffles), the torch-named math and linear algebra with their gradients, indexed writes
and views, distributions in a loss, and L-BFGS (whose line search reads values: a graph break)."""
from __future__ import annotations

import ember
import ember.nn.functional as F
from ember import distributions as D
from ember import nn, optim

from .harness import N_STEPS, Program, Row
from .rows_layers import I, R, _layer_program, _mode, _smooth


def _bag(mode):
    def call(layer, idx):
        return layer(idx, ember.tensor([0, 2, 2, 5]))  # bags of 2, 0, 3 and 3 ids: an empty bag included

    return lambda: nn.EmbeddingBag(10, 4, mode=mode), [I(10, 8)], call


def _transformer(layer, src):
    return layer(src, src[:3])


def _decoder(layer, tgt):
    return layer(tgt, tgt.flip(0), tgt_mask=nn.Transformer.generate_square_subsequent_mask(tgt.shape[0]))


LAYERS = [
    ("EmbeddingBag-mean", *_bag("mean")),
    ("EmbeddingBag-sum", *_bag("sum")),
    ("EmbeddingBag-max", *_bag("max")),
    ("EmbeddingBag-2d-input", lambda: nn.EmbeddingBag(10, 4), [I(10, 3, 4)], None),
    ("Transformer", lambda: nn.Transformer(8, 2, 1, 1, dim_feedforward=16, dropout=0.1), [R(5, 2, 8)],
     _transformer),
    ("TransformerDecoderLayer", lambda: nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.1),
     [R(4, 2, 8)], _decoder),
    ("TransformerDecoder-norm_first", lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(
        8, 2, dim_feedforward=16, dropout=0.1, norm_first=True), 2), [R(4, 2, 8)], _decoder),
    ("PixelShuffle", lambda: nn.PixelShuffle(2), [R(2, 8, 3, 3)], None),
    ("PixelUnshuffle", lambda: nn.PixelUnshuffle(2), [R(2, 2, 4, 4)], None),
    ("ChannelShuffle", lambda: nn.ChannelShuffle(2), [R(2, 4, 3, 3)], None),
    ("ReflectionPad2d", lambda: nn.ReflectionPad2d((1, 2, 2, 1)), [R(2, 3, 4, 4)], None),
    ("ReplicationPad1d", lambda: nn.ReplicationPad1d(2), [R(2, 3, 5)], None),
    ("CircularPad2d", lambda: nn.CircularPad2d(1), [R(2, 3, 4, 4)], None),
    ("ConstantPad3d", lambda: nn.ConstantPad3d(1, 0.5), [R(1, 2, 3, 3, 3)], None),
    ("InstanceNorm1d", lambda: nn.InstanceNorm1d(3), [R(2, 3, 6)], None),
    ("InstanceNorm2d-affine-running", lambda: nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
     [R(2, 3, 4, 4)], None),
    ("AvgPool3d", lambda: nn.AvgPool3d(2, stride=1, padding=1, count_include_pad=False), [R(1, 2, 4, 4, 4)],
     None),
]


def _op_program(fn, n_out, batch):
    """A Linear(3, n_out) whose output goes through ``fn``, trained on a smooth loss of the result."""
    model = nn.Linear(3, n_out)
    opt = optim.SGD(model.parameters(), lr=0.05)
    batches = [(ember.randn(batch, 3),) for _ in range(N_STEPS)]

    def step(x):
        opt.zero_grad()
        out = fn(model(x))
        loss = _smooth(out)
        loss.backward()
        opt.step()
        return loss, out

    return Program(step, batches, modules=[model], optimizers=[opt])


def _unit(h):  # values in (-0.9, 0.9)
    return h.tanh() * 0.9


def _square(h, n=3):  # (batch, n * n) -> well-conditioned (batch, n, n) matrices
    return h.reshape(-1, n, n) * 0.3 + 2 * ember.eye(n)


def _spd(h):
    a = _square(h)
    return a @ a.mT + 0.5 * ember.eye(3)


def _index_writes(h):
    base = h * 1.0
    base.index_add_(0, ember.tensor([0, 2, 0]), h[1:4] * 0.5)
    base.index_put_((ember.tensor([1, 3]), ember.tensor([0, 2])), h[0, :2] * 2.0, accumulate=True)
    base.index_copy_(1, ember.tensor([3]), h[:, :1].cos())
    base.scatter_add_(1, ember.tensor([[0, 1], [1, 0], [2, 2], [3, 3], [0, 0]]), h[:, :2])
    return base.index_fill_(1, ember.tensor([1]), 0.5)


# (name, function of the Linear's output, its width, the batch)
OPS = [
    ("asin-acos-atan", lambda h: _unit(h).asin() + _unit(h).acos() * _unit(h).atan(), 4, 5),
    ("atan2-hypot-like", lambda h: ember.atan2(h[:, :2], h[:, 2:] + 0.1), 4, 5),
    ("sinh-cosh-asinh", lambda h: ember.sinh(h) + ember.cosh(h * 0.5) + ember.asinh(h), 4, 5),
    ("acosh-atanh", lambda h: ember.acosh(1.5 + h * h) + ember.atanh(_unit(h)), 4, 5),
    ("addmm", lambda h: ember.addmm(h[:, :3], h[:, 3:].mT @ h[:, 3:] * 0.1, h[:, :3].mT @ h[:, :3], beta=0.5,
                                    alpha=2.0), 6, 3),
    ("diag-diagonal-det", lambda h: (ember.diag(h[0]) + ember.diag(h[:, 0])[:1, :1].sum(), ember.det(_square(h)),
                                     _square(h).diagonal(dim1=-2, dim2=-1)), 9, 2),
    ("linalg-norms", lambda h: (ember.linalg.norm(h, dim=1), ember.linalg.vector_norm(h, 3.0, dim=0),
                                ember.linalg.matrix_norm(_square(h))), 9, 2),
    ("linalg-inv-solve-det", lambda h: (ember.linalg.inv(_square(h)), ember.linalg.det(_square(h)),
                                        ember.linalg.solve(_square(h), h.reshape(2, 3, 3)[..., :1])), 9, 2),
    ("linalg-svd", lambda h: (lambda u, s, vh: (s, u @ (s[..., None] * vh)))(*ember.linalg.svd(_square(h))), 9, 2),
    ("linalg-qr", lambda h: ember.linalg.qr(_square(h)), 9, 2),
    ("linalg-eigh", lambda h: ember.linalg.eigh(_spd(h))[0], 9, 2),
    ("linalg-cholesky", lambda h: ember.linalg.cholesky(_spd(h)), 9, 2),
    ("index_add_-index_put_-index_copy_-scatter_add_", _index_writes, 4, 5),
    ("select-unfold", lambda h: (h.select(1, 2), h.unfold(1, 2, 1), h.unfold(0, 3, 2)), 4, 5),
    ("bitwise-masks", lambda h: h * ((((h * 10).long() & 3) ^ ((h * 10).long() >> 1)) | ~((h * 10).long() << 1)),
     4, 5),
    ("sparse-coo-spmm", lambda h: ember.spmm(ember.sparse_coo_tensor([[0, 1, 1, 2], [2, 0, 0, 3]], h[0], (3, 4)),
                                             h.T), 4, 5),
]


def _distribution_program():
    """A Gaussian policy's loss: rsample (reparameterised: a fresh draw each call) and log_prob."""
    model = nn.Linear(3, 4)
    opt = optim.Adam(model.parameters(), lr=0.01)
    batches = [(ember.randn(6, 3), ember.randint(0, 2, (6,))) for _ in range(N_STEPS)]

    def step(x, k):
        opt.zero_grad()
        h = model(x)
        normal = D.Normal(h[:, 0], F.softplus(h[:, 1]) + 0.1)
        sample = normal.rsample()
        cat = D.Categorical(logits=h[:, 2:])
        loss = (sample ** 2).mean() - normal.log_prob(sample.detach()).mean() - cat.log_prob(k).mean() \
            - 0.01 * cat.entropy().mean()
        loss.backward()
        opt.step()
        return loss, sample

    return Program(step, batches, modules=[model], optimizers=[opt])


def _lbfgs_program():
    model = nn.Linear(3, 2)
    opt = optim.LBFGS(model.parameters(), lr=0.5, max_iter=3)
    batches = [(ember.randn(8, 3), ember.randn(8, 2)) for _ in range(N_STEPS)]

    def step(x, y):
        def closure():
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            return loss

        return opt.step(closure)

    return Program(step, batches, modules=[model], optimizers=[opt])


ROWS = [Row(f"layer-{name}-{_mode(t)}", (lambda c=c, m=m, call=call, t=t: _layer_program(c, m, call, t)))
        for name, c, m, call in LAYERS for t in (True, False)]
ROWS += [Row(f"op-{name}", (lambda f=f, n=n, b=b: _op_program(f, n, b))) for name, f, n, b in OPS]
ROWS += [
    Row("distributions-rsample-log_prob", _distribution_program),
    Row("optimizer-LBFGS-reads-the-loss", _lbfgs_program, breaks=r"opt.step\(closure\)"),
]
