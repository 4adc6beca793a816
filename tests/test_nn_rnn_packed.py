"""Packed sequences (ember.nn.utils.rnn) and RNN/LSTM/GRU over them, against torch.nn.utils.rnn with copied
weights: packed and padded outputs, final states and gradients (input, h0/c0, weights); round trips; errors;
ember.compile (lengths as constants, or a graph break) and the CUDA path on the NumPy stand-in."""

import itertools
import warnings
import zlib

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import rnn as er

torch = pytest.importorskip("torch")
tr = torch.nn.utils.rnn
TOL = {"float64": 1e-10, "float32": 2e-5}


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _models(name, dtype, **kw):
    tm = getattr(torch.nn, name)(**kw).to(getattr(torch, dtype))
    em = getattr(nn, name)(**kw).to(getattr(ember, dtype))
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, em


def _states(s):
    return list(s) if isinstance(s, tuple) else [s]


def _close(e, t, tol, what):
    e = e.detach().numpy() if hasattr(e, "detach") else np.asarray(e)
    np.testing.assert_allclose(e, t.detach().numpy(), rtol=tol, atol=tol, err_msg=what)


def _run_pair(name, layers, bidir, batch_first, enforce_sorted, with_h0, dtype, fused=True):
    """One row: the same packed batch through torch's and Ember's module; returns what to compare."""
    rng = _rng(name, layers, bidir, batch_first, enforce_sorted, with_h0, dtype, fused)
    kw = dict(input_size=3, hidden_size=4, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    tm, em = _models(name, dtype, **kw)
    em.fused = fused
    lengths = [6, 4, 4, 1] if enforce_sorted else [2, 6, 1, 4]
    x = rng.standard_normal((4, 6, 3) if batch_first else (6, 4, 3)).astype(dtype)
    n_states = 2 if name == "LSTM" else 1
    h0 = [rng.standard_normal((layers * (1 + bidir), 4, 4)).astype(dtype) for _ in range(n_states)]
    leaves = {}
    for lib, mod, pack in ((torch, tm, tr), (ember, em, er)):
        xs = lib.tensor(x, requires_grad=True)
        hs = [lib.tensor(h, requires_grad=True) for h in h0] if with_h0 else []
        hx = None if not hs else (tuple(hs) if name == "LSTM" else hs[0])
        packed = pack.pack_padded_sequence(xs, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
        out, finals = mod(packed, hx)
        padded, lens = pack.pad_packed_sequence(out, batch_first=batch_first)
        leaves[lib.__name__] = dict(x=xs, h=hs, packed=packed, out=out, padded=padded, lens=lens,
                                    finals=_states(finals), mod=mod)
    return leaves["torch"], leaves["ember"], rng


def _backward(side, lib, gs):
    terms = [(o * lib.tensor(g)).sum() for o, g in zip([side["padded"]] + side["finals"], gs)]
    sum(terms).backward()


ROWS = list(itertools.product(["RNN", "LSTM", "GRU"], [1, 2], [False, True], [False, True], [False, True],
                              [False, True]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,layers,bidir,batch_first,enforce_sorted,with_h0", ROWS)
def test_packed_rnn_matches_torch(name, layers, bidir, batch_first, enforce_sorted, with_h0, dtype):
    t, e, rng = _run_pair(name, layers, bidir, batch_first, enforce_sorted, with_h0, dtype)
    tol = TOL[dtype]
    assert isinstance(e["out"], er.PackedSequence)
    assert e["out"].batch_sizes.tolist() == t["out"].batch_sizes.tolist()
    if not enforce_sorted:
        assert e["out"].sorted_indices.tolist() == t["out"].sorted_indices.tolist()
        assert e["out"].unsorted_indices.tolist() == t["out"].unsorted_indices.tolist()
    _close(e["out"].data, t["out"].data, tol, "packed output")
    _close(e["padded"], t["padded"], tol, "padded output")
    assert e["lens"].tolist() == t["lens"].tolist()
    assert len(e["finals"]) == len(t["finals"])
    for i, (a, b) in enumerate(zip(e["finals"], t["finals"])):
        _close(a, b, tol, f"final state {i}")
    gs = [rng.standard_normal(tuple(o.shape)).astype(dtype) for o in [t["padded"]] + t["finals"]]
    _backward(t, torch, gs)
    _backward(e, ember, gs)
    _close(e["x"].grad, t["x"].grad, tol, "input grad")
    for i, (a, b) in enumerate(zip(e["h"], t["h"])):
        _close(a.grad, b.grad, tol, f"initial state {i} grad")
    ep = dict(e["mod"].named_parameters())
    for n, p in t["mod"].named_parameters():
        _close(ep[n].grad, p.grad, tol, f"{n} grad")


@pytest.mark.parametrize("bidir,with_h0", [(False, True), (True, False), (True, True)])
def test_packed_lstm_cell_loop_matches_torch(bidir, with_h0):
    """fused=False: the LSTM's cell loop with the per-step mask (the fused kernel gathers instead)."""
    t, e, rng = _run_pair("LSTM", 2, bidir, False, False, with_h0, "float64", fused=False)
    _close(e["padded"], t["padded"], 1e-10, "padded output")
    for a, b in zip(e["finals"], t["finals"]):
        _close(a, b, 1e-10, "final state")
    gs = [rng.standard_normal(tuple(o.shape)) for o in [t["padded"]] + t["finals"]]
    _backward(t, torch, gs)
    _backward(e, ember, gs)
    _close(e["x"].grad, t["x"].grad, 1e-10, "input grad")
    ep = dict(e["mod"].named_parameters())
    for n, p in t["mod"].named_parameters():
        _close(ep[n].grad, p.grad, 1e-10, f"{n} grad")


def test_packed_relu_rnn_padding_stays_finite():
    """A relu RNN whose state grows: the frozen padding steps add nothing (no inf/nan in the gradients)."""
    em = nn.RNN(2, 3, nonlinearity="relu").double()
    with ember.no_grad():
        em.weight_hh_l0.copy_(ember.eye(3, dtype=ember.float64) * 50)
    x = ember.ones(400, 2, 2, dtype=ember.float64, requires_grad=True)
    out, h = em(er.pack_padded_sequence(x, [400, 1]))
    (out.data.sum() * 0 + h[0, 1].sum()).backward()
    assert np.isfinite(x.grad.numpy()).all() and np.isfinite(em.weight_ih_l0.grad.numpy()).all()


# -- pack / pad / round trips --------------------------------------------------------------------------------
PACK_ROWS = [((6, 4), [6, 4, 4, 1], True), ((6, 4, 3, 2), [2, 6, 1, 4], False), ((5, 3), [5, 5, 5], True),
             ((4, 3, 2), [3, 3, 1], False), ((7, 1, 2), [3], True)]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("shape,lengths,enforce_sorted", PACK_ROWS)
def test_pack_pad_round_trip_matches_torch(shape, lengths, enforce_sorted, batch_first):
    x = _rng(shape, batch_first).standard_normal(shape)
    if batch_first:
        x = np.ascontiguousarray(np.swapaxes(x, 0, 1))
    xt, xe = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    for ln in (lengths, torch.tensor(lengths)):
        pt = tr.pack_padded_sequence(xt, ln, batch_first=batch_first, enforce_sorted=enforce_sorted)
        pe = er.pack_padded_sequence(xe, ember.tensor(lengths) if not isinstance(ln, list) else ln,
                                     batch_first=batch_first, enforce_sorted=enforce_sorted)
        _close(pe.data, pt.data, 0, "packed data")
        assert pe.batch_sizes.dtype == ember.int64 and pe.batch_sizes.device.type == "cpu"
        assert pe.batch_sizes.tolist() == pt.batch_sizes.tolist()
        for a, b in ((pe.sorted_indices, pt.sorted_indices), (pe.unsorted_indices, pt.unsorted_indices)):
            assert (a is None) == (b is None) and (a is None or a.tolist() == b.tolist())
    total = shape[0] + 2
    for kw in (dict(), dict(padding_value=-3.0, total_length=total)):
        at, lt = tr.pad_packed_sequence(pt, batch_first=batch_first, **kw)
        ae, le = er.pad_packed_sequence(pe, batch_first=batch_first, **kw)
        _close(ae, at, 0, f"padded {kw}")
        assert le.tolist() == lt.tolist() and le.dtype == ember.int64
    g = _rng("g", shape).standard_normal(tuple(at.shape))
    (at * torch.tensor(g)).sum().backward()
    (ae * ember.tensor(g)).sum().backward()
    _close(xe.grad, xt.grad, 0, "gradient through pack and pad")


def test_pack_sequence_and_unpack_sequence_match_torch():
    seqs = [_rng(i).standard_normal((n, 2)) for i, n in enumerate([2, 5, 3, 3])]
    et = [ember.tensor(s, requires_grad=True) for s in seqs]
    tt = [torch.tensor(s, requires_grad=True) for s in seqs]
    pe, pt = er.pack_sequence(et, enforce_sorted=False), tr.pack_sequence(tt, enforce_sorted=False)
    _close(pe.data, pt.data, 0, "pack_sequence")
    assert pe.sorted_indices.tolist() == pt.sorted_indices.tolist()
    back = er.unpack_sequence(pe)
    for a, b in zip(back, tr.unpack_sequence(pt)):
        _close(a, b, 0, "unpack_sequence")
    sum((a * (i + 1)).sum() for i, a in enumerate(back)).backward()
    for i, s in enumerate(et):
        np.testing.assert_array_equal(s.grad.numpy(), np.full(s.shape, i + 1.0))
    padded = er.pad_sequence(et, batch_first=True)
    for a, b in zip(er.unpad_sequence(padded, ember.tensor([2, 5, 3, 3]), batch_first=True), seqs):
        np.testing.assert_array_equal(a.detach().numpy(), b)


def test_invert_permutation_and_packed_sequence_methods():
    perm = [3, 0, 2, 1]
    assert er.invert_permutation(ember.tensor(perm)).tolist() == tr.invert_permutation(torch.tensor(perm)).tolist()
    assert er.invert_permutation(None) is None
    p = er.pack_sequence([ember.ones(1, 2), ember.ones(3, 2)], enforce_sorted=False)
    assert p.unsorted_indices.tolist() == [1, 0] and not p.is_cuda
    assert p.double().data.dtype == ember.float64 and p.double().float().data.dtype == ember.float32
    assert p.to("cpu") is p and p.cpu() is p and p.to(ember.float32) is p
    data, batch_sizes, sorted_idx, unsorted_idx = p  # a namedtuple: unpacks as torch's does
    assert batch_sizes.tolist() == [2, 1, 1] and sorted_idx.tolist() == [1, 0]
    q = er.PackedSequence(data, [2, 1, 1], sorted_idx)  # unsorted_indices filled in, a list made a tensor
    assert q.unsorted_indices.tolist() == [1, 0] and q.batch_sizes.dtype == ember.int64


# -- errors ------------------------------------------------------------------------------------------------
def _x():
    return ember.randn(4, 3, 2)


ERRORS = [
    (lambda: er.pack_padded_sequence(_x(), [2, 4, 1]), RuntimeError, "enforce_sorted"),
    (lambda: er.pack_padded_sequence(_x(), ember.tensor([2, 4, 1])), RuntimeError, "enforce_sorted"),
    (lambda: er.pack_padded_sequence(_x(), [4, 2, 0]), RuntimeError, "1..4"),
    (lambda: er.pack_padded_sequence(_x(), [4, 0, 2], enforce_sorted=False), RuntimeError, "1..4"),
    (lambda: er.pack_padded_sequence(_x(), [3, 2, -1]), RuntimeError, "1..4"),
    (lambda: er.pack_padded_sequence(_x(), [5, 2, 1]), RuntimeError, "padded length"),
    (lambda: er.pack_padded_sequence(_x(), [3, 2]), RuntimeError, "2 lengths for a batch of 3"),
    (lambda: er.pack_padded_sequence(_x(), [3, 2, 1], batch_first=True), RuntimeError, "batch of 4"),
    (lambda: er.pack_padded_sequence(_x(), ember.tensor([[3, 2, 1]])), RuntimeError, "1-D CPU tensor"),
    (lambda: er.pack_padded_sequence(ember.ones(3), [3]), ValueError, "at least 2 dims"),
    (lambda: er.pad_packed_sequence(er.pack_padded_sequence(_x(), [3, 2, 1]), total_length=2), ValueError,
     "total_length=2"),
    (lambda: er.pad_packed_sequence(_x()), TypeError, "PackedSequence"),
    (lambda: er.pack_sequence([]), ValueError, "empty list"),
    (lambda: nn.GRU(2, 3)(er.pack_padded_sequence(_x(), [3, 2, 1]), ember.zeros(1, 2, 3)), RuntimeError,
     "(1, 3, 3)"),
    (lambda: nn.LSTM(2, 3)(er.pack_padded_sequence(_x(), [3, 2, 1]), ember.zeros(1, 3, 3)), TypeError,
     "tuple (h_0, c_0)"),
    (lambda: nn.LSTM(5, 3)(er.pack_padded_sequence(_x(), [3, 2, 1])), RuntimeError, "input_size=5"),
    (lambda: nn.LSTM(2, 3)(er.pack_padded_sequence(_x().double(), [3, 2, 1])), RuntimeError, "float64"),
]


@pytest.mark.parametrize("call,exc,words", ERRORS)
def test_packed_errors(call, exc, words):
    with pytest.raises(exc, match=None) as info:
        call()
    assert words in str(info.value)
    assert "test_nn_rnn_packed.py" in str(info.value)  # the user's line


# -- ember.compile ----------------------------------------------------------------------------------------
def _packed_loss(model):
    def f(x, lengths):
        out, (h, c) = model(er.pack_padded_sequence(x, lengths, enforce_sorted=False))
        return er.pad_packed_sequence(out)[0].sum() + h.sum() + c.sum()
    return f


def test_compiled_lengths_as_constants_match_eager():
    model = nn.LSTM(3, 4, bidirectional=True)
    f = _packed_loss(model)
    cf = ember.compile(f)
    x = ember.randn(5, 3, 3)
    for lengths in ([2, 5, 3], [5, 1, 4], [2, 5, 3]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no graph break for Python lengths
            got = cf(x, lengths)
        assert abs(float(got) - float(f(x, lengths))) < 1e-5


def test_compiled_tensor_lengths_break_with_the_user_line():
    f = _packed_loss(nn.LSTM(3, 4))
    x = ember.randn(5, 3, 3)
    with pytest.warns(RuntimeWarning, match="graph break") as rec:
        got = ember.compile(f)(x, ember.tensor([3, 5, 2]))
    assert "pack_padded_sequence(x, lengths" in str(rec[0].message)
    assert abs(float(got) - float(f(x, ember.tensor([3, 5, 2])))) < 1e-5
    with pytest.raises(Exception, match="graph break"):
        ember.compile(f, strict=True)(x, ember.tensor([3, 5, 2]))


# -- the CUDA path (tests/fake_cupy.py: NumPy posing as CuPy) ---------------------------------------------
def test_packed_lstm_on_cuda_stand_in(monkeypatch):
    import fake_cupy

    model = nn.LSTM(2, 3, bidirectional=True).double()
    x = np.random.default_rng(3).standard_normal((4, 3, 2))
    lengths = [2, 4, 1]
    want, (wh, _) = model(er.pack_padded_sequence(ember.tensor(x), lengths, enforce_sorted=False))
    fake_cupy.install(monkeypatch)
    model.cuda()
    lengths_cuda = ember.tensor(lengths, device="cuda")
    with pytest.raises(RuntimeError, match="CPU"):
        er.pack_padded_sequence(ember.tensor(x, device="cuda"), lengths_cuda, enforce_sorted=False)
    packed = er.pack_padded_sequence(ember.tensor(x, device="cuda"), lengths, enforce_sorted=False)
    assert packed.is_cuda and packed.batch_sizes.device.type == "cpu" and packed.sorted_indices.is_cuda
    got, (gh, _) = model(packed)
    assert got.is_cuda and not got.cpu().is_cuda
    np.testing.assert_allclose(got.cpu().data.detach().numpy(), want.data.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(gh.cpu().detach().numpy(), wh.detach().numpy(), atol=1e-12)
    padded, lens = er.pad_packed_sequence(got)
    assert padded.is_cuda and lens.device.type == "cpu" and lens.tolist() == lengths
