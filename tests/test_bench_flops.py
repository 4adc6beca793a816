"""The sustained bench's FLOP count (issue 16): PyTorch's counter has no formula for its CPU LSTM layer."""
import pytest

torch = pytest.importorskip("torch")

from bench.bench_sustained import _step_flops  # noqa: E402


@pytest.mark.parametrize("layers, batch_first", [(1, True), (2, False)])
def test_lstm_step_counts_every_gate_product(layers, batch_first):
    steps, batch, inputs, hidden = 7, 3, 5, 4
    lstm = torch.nn.LSTM(inputs, hidden, layers, batch_first=batch_first)
    shape = (batch, steps, inputs) if batch_first else (steps, batch, inputs)
    x = torch.randn(shape)

    def step(x):
        lstm(x)[0].sum().backward()

    per_layer = [2 * steps * batch * 4 * hidden * ((inputs if k == 0 else hidden) + hidden) for k in range(layers)]
    assert _step_flops(step, (x,)) == 3 * sum(per_layer)  # forward, input gradients, weight gradients
