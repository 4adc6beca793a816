"""ember.optim's options for Keras's (and TensorFlow's) update math, one row each: Adam's
``eps_before_bias_correction``, RMSprop's ``eps_inside_sqrt`` and ``lr_inside_momentum``, Adagrad's
``eps_inside_sqrt``. Each row runs four steps (with the learning rate changed after two) eagerly and compiled
and compares both with a NumPy transcription of the formula."""

import numpy as np
import pytest

import ember
from ember import optim


def _adam_ref(w, grads, lrs, b1=0.9, b2=0.999, eps=1e-3):
    m = v = np.zeros_like(w)
    for t, (g, lr) in enumerate(zip(grads, lrs), 1):
        m = m + (g - m) * (1 - b1)
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return w


def _rmsprop_ref(w, grads, lrs, rho=0.9, eps=1e-3, momentum=0.5):
    v, mom = np.zeros_like(w), np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        v = rho * v + (1 - rho) * g * g
        mom = momentum * mom + lr * g / np.sqrt(v + eps)
        w = w - mom
    return w


def _adagrad_ref(w, grads, lrs, eps=1e-3, init=0.1):
    acc = np.full_like(w, init)
    for g, lr in zip(grads, lrs):
        acc = acc + g * g
        w = w - lr * g / np.sqrt(acc + eps)
    return w


ROWS = {
    "Adam eps_before_bias_correction": (
        lambda p: optim.Adam(p, lr=0.1, eps=1e-3, eps_before_bias_correction=True), _adam_ref),
    "AdamW eps_before_bias_correction": (
        lambda p: optim.AdamW(p, lr=0.1, eps=1e-3, weight_decay=0.0, eps_before_bias_correction=True), _adam_ref),
    "RMSprop eps_inside_sqrt lr_inside_momentum": (
        lambda p: optim.RMSprop(p, lr=0.1, alpha=0.9, eps=1e-3, momentum=0.5, eps_inside_sqrt=True,
                                lr_inside_momentum=True), _rmsprop_ref),
    "Adagrad eps_inside_sqrt": (
        lambda p: optim.Adagrad(p, lr=0.1, eps=1e-3, initial_accumulator_value=0.1, eps_inside_sqrt=True),
        _adagrad_ref),
}

GRADS = [np.array([0.5, -1.5, 0.01, 0.0]) * s for s in (1.0, -2.0, 0.5, 3.0)]
LRS = [0.1, 0.1, 0.03, 0.03]


def _run(make, compiled):
    w = ember.tensor([1.0, -2.0, 0.5, 3.0], requires_grad=True)
    opt = make([w])
    g = ember.zeros(4)

    def step(grad):
        w.grad = grad * 1.0
        opt.step()
        w.grad = None

    fn = ember.compile(step) if compiled else step
    for i, (grad, lr) in enumerate(zip(GRADS, LRS)):
        opt.param_groups[0]["lr"] = lr
        g.copy_(ember.tensor(grad.astype("float32")))
        fn(g)
        assert i < 2 or not compiled or ember.compile.stats(fn)["fallbacks"] == 0
    return w.detach().numpy()


@pytest.mark.parametrize("name", sorted(ROWS))
def test_option_gives_keras_math_eagerly_and_compiled(name):
    make, ref = ROWS[name]
    want = ref(np.array([1.0, -2.0, 0.5, 3.0]), GRADS, LRS)
    eager = _run(make, compiled=False)
    np.testing.assert_allclose(eager, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_run(make, compiled=True), eager, rtol=1e-6, atol=1e-7)


def test_options_default_off_and_change_the_result():
    make, _ = ROWS["Adam eps_before_bias_correction"]
    default = _run(lambda p: optim.Adam(p, lr=0.1, eps=1e-3), compiled=False)
    assert optim.Adam([ember.zeros(1, requires_grad=True)]).defaults["eps_before_bias_correction"] is False
    assert not np.allclose(default, _run(make, compiled=False), rtol=1e-6, atol=0)
