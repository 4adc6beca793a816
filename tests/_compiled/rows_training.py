"""Differential rows: optimizers, LR schedulers, in-place ops, clipping, gradient accumulation, a GAN step,
random draws, the issue's reported cases, and the Python value reads that must be graph breaks."""
from __future__ import annotations

import ember
import ember.nn.functional as F
from ember import nn, optim
from ember.optim import lr_scheduler as S

from .harness import N_STEPS, Program, Row


def _mlp():
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))


def _data(n_in=3, n_out=2, batch=8, scale=1.0):
    return [(ember.randn(batch, n_in) * scale, ember.randn(batch, n_out)) for _ in range(N_STEPS)]


def _train(model, opt, body=None, schedulers=(), watch=(), batches=None):
    """A supervised step: zero_grad, forward (``body(model, x)``), MSE, backward, step."""

    def step(x, y):
        opt.zero_grad()
        out = body(model, x) if body else model(x)
        loss = F.mse_loss(out, y)
        loss.backward()
        opt.step()
        return loss

    return Program(step, batches or _data(), modules=[model], optimizers=[opt], schedulers=list(schedulers),
                   watch=list(watch))


# -- optimizers ------------------------------------------------------------------------------------------
OPTIMIZERS = [
    ("SGD", optim.SGD, dict(lr=0.1)),
    ("SGD-momentum-dampening-weight_decay", optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1,
                                                             weight_decay=0.01)),
    ("SGD-nesterov-maximize", optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", optim.Adam, dict(lr=0.01)),
    ("Adam-weight_decay-amsgrad", optim.Adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adam-betas-maximize", optim.Adam, dict(lr=0.01, betas=(0.3, 0.9), maximize=True)),
    ("AdamW", optim.AdamW, dict(lr=0.01)),
    ("AdamW-amsgrad", optim.AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", optim.RMSprop, dict(lr=0.01)),
    ("RMSprop-centered-momentum-weight_decay", optim.RMSprop, dict(lr=0.01, momentum=0.9, centered=True,
                                                                   weight_decay=0.01)),
    ("Adagrad", optim.Adagrad, dict(lr=0.1)),
    ("Adagrad-lr_decay-weight_decay", optim.Adagrad, dict(lr=0.1, lr_decay=0.1, weight_decay=0.01,
                                                          initial_accumulator_value=0.1)),
    ("Adadelta", optim.Adadelta, dict()),
    ("Adadelta-weight_decay", optim.Adadelta, dict(lr=0.5, rho=0.8, weight_decay=0.01)),
]


def _optimizer_program(cls, kw):
    model = _mlp()
    sign = -1.0 if kw.get("maximize") else 1.0
    opt = cls(model.parameters(), **kw)
    return _train(model, opt, body=lambda m, x: m(x) * sign)


# -- LR schedulers: stepped after each call, outside the compiled step (each new lr retraces) -----------------
SCHEDULERS = [
    ("StepLR", lambda o: S.StepLR(o, step_size=2, gamma=0.5), True),
    ("MultiStepLR", lambda o: S.MultiStepLR(o, milestones=[2], gamma=0.1), True),
    ("ConstantLR", lambda o: S.ConstantLR(o, factor=0.5, total_iters=1), True),
    ("ExponentialLR", lambda o: S.ExponentialLR(o, gamma=0.9), False),
    ("CosineAnnealingLR", lambda o: S.CosineAnnealingLR(o, T_max=5), False),
    ("LambdaLR", lambda o: S.LambdaLR(o, lambda e: 1.0 / (e + 1)), False),
    ("MultiplicativeLR", lambda o: S.MultiplicativeLR(o, lambda e: 0.9), False),
    ("LinearLR", lambda o: S.LinearLR(o, start_factor=0.5, total_iters=3), False),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=N_STEPS + 1), False),
    ("SequentialLR", lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=2),
                                                  S.ExponentialLR(o, gamma=0.9)], milestones=[2]), False),
]


def _scheduler_program(make_sched):
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return _train(model, opt, schedulers=[make_sched(opt)])


class _HalveLr:
    """A learning rate held in a tensor, changed in place between steps: the graph reads it, never bakes it."""

    def __init__(self, opt):
        self.lr = opt.param_groups[0]["lr"]

    def step(self):
        self.lr.mul_(0.5)


def _tensor_lr_program():
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=ember.tensor(0.2), momentum=0.9)
    return _train(model, opt, schedulers=[_HalveLr(opt)])


class _Plateau:
    """ReduceLROnPlateau stepped on the loss outside the compiled step (its comparison reads the value)."""

    def __init__(self, opt):
        self.sched, self.last = S.ReduceLROnPlateau(opt, patience=0, factor=0.5), None

    def step(self):
        self.sched.step(self.last)


def _plateau_program():
    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=0.05)
    plateau = _Plateau(opt)
    prog = _train(model, opt, schedulers=[plateau])
    inner = prog.step

    def step(x, y):
        loss = inner(x, y)
        plateau.last = loss.detach().clone()
        return loss

    prog.step = step
    return prog


# -- in-place ops, clipping, accumulation ----------------------------------------------------------------
def _issue_clip_program():
    """Issue 10's first case: clip_grad_norm_ in a compiled SGD step, Linear(4, 1), inputs scaled by 100."""
    model = nn.Linear(4, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss, norm

    return Program(step, _data(4, 1, 16, scale=100.0), modules=[model], optimizers=[opt])


def _issue_mul_program():
    """Issue 10's second case: h.mul_(2.0) on an activation inside a compiled step."""
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = optim.SGD(model.parameters(), lr=0.1)

    def body(m, x):
        h = m[0](x)
        h.mul_(2.0)
        return m[2](m[1](h))

    return _train(model, opt, body, batches=_data(4, 1, 16))


def _inplace(body):
    def make():
        model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
        return _train(model, optim.SGD(model.parameters(), lr=0.1), lambda m, x: m[2](body(m[1](m[0](x)))))

    return make


def _slice_assign(h):
    h = h * 1.0
    h[:, 0] = h[:, 1] + 1.0
    return h


def _clip_program(clip):
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.5)

    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        out = clip(model.parameters())
        opt.step()
        return loss if out is None else (loss, out)

    return Program(step, _data(scale=10.0), modules=[model], optimizers=[opt])


def _accumulate_program():
    """Two backward calls into the same .grad before one step (gradient accumulation)."""
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        F.mse_loss(model(x[:4]), y[:4]).backward()
        loss = F.mse_loss(model(x[4:]), y[4:])
        loss.backward()
        opt.step()
        return loss

    return Program(step, _data(), modules=[model], optimizers=[opt])


def _zero_grad_keep_program():
    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=0.01)

    def step(x, y):
        opt.zero_grad(set_to_none=False)
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        model.zero_grad(set_to_none=False)  # the module's own, after the step: zeros stay in .grad
        return loss

    return Program(step, _data(), modules=[model], optimizers=[opt])


def _arg_inplace_program():
    """The step changes its argument in place (written back into the caller's tensor)."""
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    batches = _data()

    def step(x, y):
        x.mul_(0.5).add_(1.0)
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return Program(step, batches, modules=[model], optimizers=[opt], watch=[b[0] for b in batches])


def _created_then_written(m, x):
    """A tensor made inside the step, read, then overwritten: each call starts again from the made value."""
    target = ember.full((8, 2), 1.0)
    first = m(x) + target
    target.fill_(0.5)
    target[0] = 2.0
    return first + m(x) + target


def _view_write_program():
    """Writes through views (a column, a reshape) in a no-grad evaluation step; the base sees them."""
    model = _mlp()

    def step(x, y):
        with ember.no_grad():
            h = model(x)
            h[:, 0].mul_(3.0)
            h.view(-1)[::3] = 0.5
            y.t()[1].add_(h[:, 0])
            return h * 1.0, y * 1.0

    return Program(step, _data(), modules=[model])


def _gan_program():
    """A GAN step: two optimizers, the generator's output detached for the discriminator's update."""
    gen = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3))
    disc = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 1))
    opt_g = optim.Adam(gen.parameters(), lr=0.01, betas=(0.5, 0.999))
    opt_d = optim.Adam(disc.parameters(), lr=0.01, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    batches = [(ember.randn(6, 3), ember.randn(6, 2)) for _ in range(N_STEPS)]

    def step(real, z):
        fake = gen(z)
        opt_d.zero_grad()
        d_loss = bce(disc(real), ember.ones(6, 1)) + bce(disc(fake.detach()), ember.zeros(6, 1))
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = bce(disc(fake), ember.ones(6, 1))
        g_loss.backward()
        opt_g.step()
        return d_loss, g_loss

    return Program(step, batches, modules=[gen, disc], optimizers=[opt_g, opt_d])


def _random_program():
    """Random draws inside the step: each call draws fresh numbers, the same ones eagerly and compiled."""
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)

    def body(m, x):
        noisy = x + 0.1 * ember.randn_like(x) + ember.rand_like(x) * 0.05
        keep = ember.bernoulli(ember.full_like(x, 0.8))
        pick = ember.randint(0, 8, (8,))
        order = ember.randperm(8)
        return m(noisy * keep)[pick][order] + F.dropout(ember.ones(8, 2), 0.5)

    return _train(model, opt, body)


# -- Python reads of values: graph breaks (the line must be named) ---------------------------------------------
def _break(body, fresh=False):
    def make():
        model = _mlp()
        return _train(model, optim.SGD(model.parameters(), lr=0.1), body() if fresh else body)

    return make


def _branch(m, x):
    h = m(x)
    if h.sum() > 0:  # bool(tensor): the branch depends on a value
        return h
    return -h


def _item(m, x):
    h = m(x)
    return h * (1.0 + h.mean().item())


def _float(m, x):
    h = m(x)
    return h / float(h.abs().max())


def _int(m, x):
    h = m(x)
    return h * int((h > 0).sum())


def _tolist(m, x):
    h = m(x)
    return h + len([v for v in h[0].tolist() if v > 0])


def _numpy(m, x):
    h = m(x)
    return h + float(h.detach().numpy().mean())


def _print(m, x, log=[]):  # noqa: B006
    h = m(x)
    log.append(f"{h.mean():.3f}")
    return h


def _generator():
    g = ember.Generator().manual_seed(5)  # per program, so both runs draw the same numbers
    return lambda m, x: m(x + ember.randn(8, 3, generator=g))


def _index(m, x):
    h = m(x)
    k = (h.sum() > 0).long()  # a 0-d integer tensor used as an index: __index__ reads its value
    return h[:, k:k + 1] + h


def _array(m, x):
    import numpy as np

    h = m(x)
    return h * float(np.asarray(h.detach()).std())


def _mask(m, x):
    h = m(x)
    return h + h[h > 0].sum()


def _one_hot(m, x):
    h = m(x)
    return h + F.one_hot(h.argmax(1)).float()[:, :2]


ROWS = [Row(f"optimizer-{n}", (lambda c=c, kw=kw: _optimizer_program(c, kw))) for n, c, kw in OPTIMIZERS]
ROWS += [Row(f"scheduler-{n}", (lambda m=m: _scheduler_program(m)), compiled_runs=hits)
         for n, m, hits in SCHEDULERS]
ROWS += [
    Row("scheduler-ReduceLROnPlateau", _plateau_program, compiled_runs=False),
    Row("scheduler-lr-tensor-changed-in-place", _tensor_lr_program),
    Row("issue-clip_grad_norm_-x100", _issue_clip_program),
    Row("issue-mul_-on-activation", _issue_mul_program),
    Row("inplace-relu_", _inplace(lambda h: F.relu_(h * 1.0))),
    Row("inplace-ReLU(inplace=True)", _inplace(lambda h: nn.ReLU(inplace=True)(h * 1.0))),
    Row("inplace-add_", _inplace(lambda h: (h * 1.0).add_(h, alpha=0.5))),
    Row("inplace-mul_", _inplace(lambda h: (h * 1.0).mul_(h))),
    Row("inplace-masked_fill_", _inplace(lambda h: (h * 1.0).masked_fill_(h > 0.3, 0.25))),
    Row("inplace-slice-assignment", _inplace(_slice_assign)),
    Row("inplace-argument", _arg_inplace_program),
    Row("inplace-through-views", _view_write_program),
    Row("inplace-on-tensor-made-in-step", _break(_created_then_written)),
    Row("clip_grad_norm_", lambda: _clip_program(lambda ps: nn.utils.clip_grad_norm_(ps, 1.0))),
    Row("clip_grad_norm_-inf-error_if_nonfinite", lambda: _clip_program(
        lambda ps: nn.utils.clip_grad_norm_(ps, 0.5, norm_type=float("inf"), error_if_nonfinite=True))),
    Row("clip_grad_value_", lambda: _clip_program(lambda ps: nn.utils.clip_grad_value_(ps, 0.05))),
    Row("gradient-accumulation-two-backward", _accumulate_program),
    Row("zero_grad-set_to_none-False", _zero_grad_keep_program),
    Row("gan-two-optimizers-detach", _gan_program),
    Row("random-ops-in-step", _random_program),
    Row("break-bool", _break(_branch), breaks="if h.sum"),
    Row("break-item", _break(_item), breaks=r"h.mean\(\).item\(\)"),
    Row("break-float", _break(_float), breaks=r"float\(h.abs"),
    Row("break-int", _break(_int), breaks=r"int\(\(h > 0\)"),
    Row("break-tolist", _break(_tolist), breaks=r"tolist\(\)"),
    Row("break-numpy", _break(_numpy), breaks=r"numpy\(\)"),
    Row("break-format-print", _break(_print), breaks=r"h.mean\(\):.3f"),
    Row("break-explicit-generator", _break(_generator, fresh=True), breaks="generator=g"),
    Row("break-boolean-mask", _break(_mask), breaks=r"h\[h > 0\]"),
    Row("break-index", _break(_index), breaks=r"h\[:, k:k \+ 1\]"),
    Row("break-array", _break(_array), breaks=r"np.asarray\(h.detach"),
    Row("break-one_hot-infers-classes", _break(_one_hot), breaks="one_hot"),
]
