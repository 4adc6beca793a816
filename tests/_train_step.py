"""Shared piece of the compiled-step tests: one classifier training step (zero_grad, cross-entropy, backward,
step) over fixed tensors, returning the loss."""

import ember


def classifier_step(model, opt, x, y):
    """A zero-argument training step of ``model`` on ``(x, y)`` with ``opt``; returns the loss tensor."""

    def step():
        opt.zero_grad()
        loss = ember.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def squared_output_losses(make, x, steps=4):
    """The losses of ``steps`` training steps (mean squared output) of ``(model, opt) = make()``, run eagerly
    and then compiled with ``strict=True`` (one graph): two lists that compiled-equals-eager tests compare."""
    runs = []
    for compiled in (False, True):
        model, opt = make()

        def step(x, model=model, opt=opt):
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            loss.backward()
            opt.step()
            return loss

        run = ember.compile(step, strict=True) if compiled else step
        runs.append([float(run(x)) for _ in range(steps)])
    return runs
