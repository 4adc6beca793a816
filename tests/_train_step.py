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
