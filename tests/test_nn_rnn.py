"""RNN, LSTM, GRU and cells against PyTorch with copied weights; the fused LSTM kernel vs the cell loop."""

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils.rnn import pad_sequence, unpad_sequence
from ember.ops import apply
from ember.testing import gradcheck

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)


def _rand(*shape):
    return RNG.standard_normal(shape)


def _copy(tm, em):
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def _flat(out):
    if isinstance(out, tuple):
        return [t for o in out for t in (_flat(o) if isinstance(o, tuple) else [o])]
    return [out]


def _as(lib, h):
    if h is None:
        return None
    return tuple(lib.tensor(a) for a in h) if isinstance(h, tuple) else lib.tensor(h)


def _compare(name, kw, x, hx=None, dtype="float64", tol=1e-10, train=True, fused=True):
    tm = getattr(torch.nn, name)(**kw).to(getattr(torch, dtype))
    em = getattr(nn, name)(**kw).to(getattr(ember, dtype))
    _copy(tm, em)
    if hasattr(em, "fused"):
        em.fused = fused
    tm.train(train)
    em.train(train)
    x = x.astype(dtype)
    xt, xe = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    lt, le = _flat(tm(xt, _as(torch, hx))), _flat(em(xe, _as(ember, hx)))
    assert len(lt) == len(le)
    for a, b in zip(lt, le):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=tol, rtol=tol)
    gs = [RNG.standard_normal(tuple(a.shape)).astype(dtype) for a in lt]
    sum((a * torch.tensor(g)).sum() for a, g in zip(lt, gs)).backward()
    sum((b * ember.tensor(g)).sum() for b, g in zip(le, gs)).backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), atol=tol, rtol=tol)
    ep = dict(em.named_parameters())
    assert list(ep) == [n for n, _ in tm.named_parameters()]
    for n, p in tm.named_parameters():
        np.testing.assert_allclose(ep[n].grad.numpy(), p.grad.numpy(), atol=tol, rtol=tol, err_msg=n)


CONFIGS = [
    dict(input_size=5, hidden_size=4),
    dict(input_size=5, hidden_size=4, num_layers=2, bidirectional=True),
    dict(input_size=5, hidden_size=4, num_layers=2, batch_first=True, bias=False),
]


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("kw", CONFIGS)
@pytest.mark.parametrize("train", [True, False])
def test_recurrent_layers_match_torch(name, kw, train):
    _compare(name, kw, _rand(7, 3, 5), train=train)


@pytest.mark.parametrize("fused", [True, False])
def test_lstm_initial_state_and_float32(fused):
    kw = dict(input_size=5, hidden_size=4, num_layers=2, batch_first=True)
    hx = (_rand(2, 6, 4), _rand(2, 6, 4))
    _compare("LSTM", kw, _rand(6, 3, 5), hx=hx, fused=fused)
    _compare(
        "LSTM",
        kw,
        _rand(6, 3, 5),
        hx=tuple(h.astype(np.float32) for h in hx),
        dtype="float32",
        tol=1e-5,
        fused=fused,
    )


def test_gru_rnn_relu_initial_state_and_unbatched():
    _compare("GRU", dict(input_size=5, hidden_size=4, bidirectional=True), _rand(7, 3, 5), hx=_rand(2, 3, 4))
    _compare("RNN", dict(input_size=5, hidden_size=4, nonlinearity="relu", num_layers=3), _rand(7, 3, 5))
    _compare("RNN", dict(input_size=5, hidden_size=4), _rand(7, 5), hx=_rand(1, 4))
    _compare("LSTM", dict(input_size=5, hidden_size=4, bidirectional=True), _rand(7, 5))


@pytest.mark.parametrize(
    "name,hx", [("LSTMCell", (_rand(3, 4), _rand(3, 4))), ("GRUCell", _rand(3, 4)), ("RNNCell", None)]
)
def test_cells_match_torch(name, hx):
    _compare(name, dict(input_size=5, hidden_size=4), _rand(3, 5), hx=hx)
    _compare(name, dict(input_size=5, hidden_size=4, bias=False), _rand(5))


def test_fused_lstm_equals_the_cell_loop_composite():
    ember.manual_seed(0)
    lstm = nn.LSTM(6, 5, num_layers=2, bidirectional=True).double()
    x = ember.randn(9, 4, 6, dtype=ember.float64)
    grads = []
    for fused in (True, False):
        lstm.fused = fused
        lstm.zero_grad()
        out, (h, c) = lstm(x)
        (out.sin().sum() + h.cos().sum() + (c * c).sum()).backward()
        grads.append([out.detach().numpy().copy()] + [p.grad.numpy().copy() for p in lstm.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, atol=1e-12, rtol=1e-12)


def test_lstm_seq_primitive_gradcheck_and_second_order_error():
    t, b, h = 4, 2, 3
    xw = ember.tensor(_rand(t, b, 4 * h), requires_grad=True)
    w = ember.tensor(_rand(4 * h, h) * 0.5, requires_grad=True)
    h0 = ember.tensor(_rand(b, h), requires_grad=True)
    c0 = ember.tensor(_rand(b, h), requires_grad=True)
    assert gradcheck(lambda *a: apply("lstm_seq", *a), (xw, w, h0, c0))
    out = apply("lstm_seq", xw, w, h0, c0)
    (g,) = ember.autograd.grad(out.sum(), xw, create_graph=True)
    with pytest.raises(RuntimeError, match="first-order"):
        g.sum().backward()


def test_lstm_without_grad_and_with_recomputed_gates():
    from ember.ops import rnn as rnn_ops

    ember.manual_seed(1)
    lstm = nn.LSTM(3, 4).double()
    x = ember.randn(5, 2, 3, dtype=ember.float64)
    with ember.no_grad():
        ref = lstm(x)[0]
    lstm.fused = True
    out = lstm(x)[0]
    np.testing.assert_allclose(out.detach().numpy(), ref.numpy())
    out.sum().backward()
    first = [p.grad.numpy().copy() for p in lstm.parameters()]
    lstm.zero_grad()
    out = lstm(x)[0]
    rnn_ops._SAVED.clear()  # the backward must recompute the gate activations
    out.sum().backward()
    for a, p in zip(first, lstm.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), a, atol=1e-12)


def test_dropout_between_layers_only_in_training():
    ember.manual_seed(0)
    lstm = nn.LSTM(4, 8, num_layers=2, dropout=0.5)
    x = ember.randn(5, 2, 4)
    a, b = lstm(x)[0], lstm(x)[0]
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    lstm.eval()
    a, b = lstm(x)[0], lstm(x)[0]
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_default_init_and_repr():
    ember.manual_seed(0)
    gru = nn.GRU(10, 20, num_layers=2, bidirectional=True)
    names = [n for n, _ in gru.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert "weight_ih_l1_reverse" in names and tuple(gru.weight_ih_l1.shape) == (60, 40)
    for p in gru.parameters():
        assert np.abs(p.detach().numpy()).max() <= 1 / np.sqrt(20)
    assert repr(gru) == "GRU(10, 20, num_layers=2, bidirectional=True)"
    assert len(gru.all_weights) == 4


def test_pad_sequence_matches_torch():
    seqs = [_rand(3, 2), _rand(5, 2), _rand(1, 2)]
    for kw in (dict(), dict(batch_first=True, padding_value=-1.0), dict(padding_side="left")):
        e = pad_sequence([ember.tensor(s) for s in seqs], **kw)
        t = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], **kw)
        np.testing.assert_array_equal(e.numpy(), t.numpy())
    x = ember.tensor(seqs[0], requires_grad=True)
    pad_sequence([x, ember.tensor(seqs[1])]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 2)))
    back = unpad_sequence(pad_sequence([ember.tensor(s) for s in seqs]), [3, 5, 1])
    assert [tuple(b.shape) for b in back] == [(3, 2), (5, 2), (1, 2)]


BAD = [
    (lambda: nn.LSTM(8, 4)(ember.randn(5, 2, 6)), RuntimeError, ["LSTM", "input_size", "Expected 8, got 6"]),
    (
        lambda: nn.GRU(3, 4)(ember.randn(5, 2, 3), ember.zeros(2, 2, 4)),
        RuntimeError,
        ["GRU", "(1, 2, 4)", "(2, 2, 4)"],
    ),
    (lambda: nn.LSTM(3, 4)(ember.randn(5, 2, 3), ember.zeros(1, 2, 4)), TypeError, ["(h_0, c_0)"]),
    (lambda: nn.RNN(3, 4, nonlinearity="gelu"), ValueError, ["gelu", "tanh"]),
    (lambda: nn.LSTMCell(3, 4)(ember.randn(2, 5)), RuntimeError, ["LSTMCell", "(2, 5)"]),
    (lambda: nn.LSTM(3, 4)(ember.randn(5, 2, 3, dtype=ember.float64)), RuntimeError, ["float64", "float32"]),
    (lambda: pad_sequence([ember.ones(2, 3), ember.ones(2, 4)]), RuntimeError, ["trailing dims", "(2, 4)"]),
]


@pytest.mark.parametrize("fn,exc,words", BAD)
def test_bad_input_errors(fn, exc, words):
    with pytest.raises(exc) as info:
        fn()
    for w in words:
        assert w in str(info.value), (w, str(info.value))
