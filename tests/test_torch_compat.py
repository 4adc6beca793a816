"""Behaviours found wrong while running public PyTorch programs, each checked against torch itself: reductions
over size-0 dims, dropout on unusual ranks, squeeze of a missing dim, Dataset iteration, tensor metadata
methods (stride, nelement, in-place unsqueeze_/squeeze_), index_put."""
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def both(fn):
    return fn(ember), fn(torch)


# reductions over a size-0 dim: softmax and friends give empty / -inf results; max-like ones raise IndexError
EMPTY_OK = [
    ("softmax", lambda L, x: L.nn.functional.softmax(x, dim=1)),
    ("log_softmax", lambda L, x: L.nn.functional.log_softmax(x, dim=1)),
    ("softmax_dim0", lambda L, x: x.softmax(0)),
    ("logsumexp", lambda L, x: L.logsumexp(x, 1)),
    ("sum", lambda L, x: x.sum(1)),
    ("mean_all", lambda L, x: x.mean(0)),
    ("prod", lambda L, x: x.prod(1)),
    ("max_other_dim", lambda L, x: x.max(0).values),
    ("cumsum", lambda L, x: x.cumsum(1)),
]


@pytest.mark.parametrize("name,fn", EMPTY_OK, ids=[r[0] for r in EMPTY_OK])
def test_reductions_over_empty_dims_match_torch(name, fn):
    e, t = fn(ember, ember.ones(2, 0)), fn(torch, torch.ones(2, 0))
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(e.numpy(), t.numpy())


@pytest.mark.parametrize("fn", [lambda L, x: x.max(1), lambda L, x: x.amax(1), lambda L, x: x.argmax(1),
                                lambda L, x: x.min(dim=1), lambda L, x: x.argmin()], ids=["max", "amax", "argmax",
                                                                                           "min", "argmin_all"])
def test_max_like_reductions_over_empty_dims_raise_index_error_like_torch(fn):
    with pytest.raises(IndexError):
        fn(torch, torch.ones(2, 0))
    with pytest.raises(IndexError, match="non-zero size"):
        fn(ember, ember.ones(2, 0))


def test_softmax_over_empty_dim_backward():
    x = ember.ones(3, 0, requires_grad=True)
    ember.nn.functional.log_softmax(x, 1).sum().backward()
    assert x.grad.shape == (3, 0)


# dropout ranks: PyTorch's warnings and mask shapes (which entries share one draw)
DROPOUTS = [
    ("dropout2d_2d", "dropout2d", (6, 50), True, (6, 50)),
    ("dropout2d_3d", "dropout2d", (4, 6, 50), True, (4, 6, 1)),
    ("dropout2d_4d", "dropout2d", (2, 6, 5, 5), False, (2, 6, 1, 1)),
    ("dropout1d_2d", "dropout1d", (6, 50), False, (6, 1)),
    ("dropout1d_3d", "dropout1d", (2, 6, 50), False, (2, 6, 1)),
    ("dropout3d_4d", "dropout3d", (6, 3, 4, 5), False, (6, 1, 1, 1)),
    ("dropout3d_3d", "dropout3d", (6, 4, 5), True, (6, 1, 1)),
    ("dropout3d_5d", "dropout3d", (2, 6, 3, 4, 5), False, (2, 6, 1, 1, 1)),
]


def _mask_shape(out):
    """The smallest shape whose broadcast gives out's zero pattern (which dims share one draw)."""
    zero = out == 0
    return tuple(1 if np.all(zero == zero.take([0], axis=d)) and zero.shape[d] > 1 else zero.shape[d]
                 for d in range(zero.ndim))


@pytest.mark.parametrize("name,fn,shape,warns,mask", DROPOUTS, ids=[d[0] for d in DROPOUTS])
def test_dropout_ranks_like_torch(name, fn, shape, warns, mask):
    ember.manual_seed(0)
    torch.manual_seed(0)
    outs = []
    for lib in (ember, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = getattr(lib.nn.functional, fn)(lib.ones(*shape), 0.5, training=True)
        assert bool([w for w in caught if issubclass(w.category, UserWarning)]) == warns, (lib.__name__, caught)
        outs.append(out.numpy())
    assert _mask_shape(outs[0]) == _mask_shape(outs[1]) == mask
    assert set(np.unique(outs[0])) <= {0.0, 2.0}


def test_squeeze_of_a_missing_dim_raises_like_torch():
    for dim in (2, -3, (0, 5)):
        with pytest.raises(IndexError):
            torch.ones(2, 3).squeeze(dim)
        with pytest.raises(IndexError, match="out of range"):
            ember.ones(2, 3).squeeze(dim)
    assert ember.ones(1, 3).squeeze((0, 1)).shape == torch.ones(1, 3).squeeze((0, 1)).shape == (3,)
    assert ember.ones(()).squeeze(0).shape == torch.ones(()).squeeze(0).shape == ()


def test_dataset_iteration_matches_torch_and_warns_when_it_stops_early():
    def short(base):
        class Short(base):
            def __len__(self):
                return 5

            def __getitem__(self, i):
                return [1, 2, 3][i]

        return Short()

    class Unsized(ember.utils.data.Dataset):
        def __getitem__(self, i):
            if i >= 3:
                raise IndexError(i)
            return i

    assert list(short(torch.utils.data.Dataset)) == [1, 2, 3]  # PyTorch stops silently
    with pytest.warns(UserWarning, match="stopped after 3 items.*len\\(\\) says 5"):
        assert list(short(ember.utils.data.Dataset)) == [1, 2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no len(): IndexError is the normal end, no warning
        assert list(Unsized()) == [0, 1, 2]
        assert [int(t[0]) for t in ember.utils.data.TensorDataset(ember.arange(3))] == [0, 1, 2]


def test_nonleaf_grad_warns_like_torch():
    for lib in (ember, torch):
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        with pytest.warns(UserWarning, match="(?i)non-leaf|not a leaf"):
            assert y.grad is None
        y.retain_grad()
        (y * y).sum().backward()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert y.grad is not None and x.grad is not None


METADATA = [
    ("stride", lambda L: L.ones(2, 3, 4).stride()),
    ("stride_dim", lambda L: L.ones(2, 3, 4).stride(1)),
    ("stride_0d", lambda L: L.ones(()).stride()),
    ("nelement", lambda L: L.ones(2, 3).nelement()),
    ("unsqueeze_", lambda L: tuple(L.ones(2, 3).unsqueeze_(1).shape)),
    ("squeeze_", lambda L: tuple(L.ones(2, 1, 3).squeeze_().shape)),
    ("squeeze_dim_", lambda L: tuple(L.ones(2, 1, 3).squeeze_(1).shape)),
    ("storage_offset", lambda L: L.ones(3).storage_offset()),
    ("is_nonzero", lambda L: L.tensor([2.0]).is_nonzero()),
    ("index_put", lambda L: L.zeros(3).index_put((L.tensor([0, 0, 2]),), L.tensor([1.0, 2.0, 3.0]),
                                                 accumulate=True).tolist()),
    ("index_copy", lambda L: L.zeros(2, 3).index_copy(1, L.tensor([2, 0]), L.ones(2, 2)).tolist()),
    ("device_flags", lambda L: (L.ones(2).is_xpu, L.ones(2).is_mps, L.ones(2).is_meta, L.ones(2).is_sparse,
                                L.ones(2).is_quantized, L.ones(2).is_complex(), L.ones(2).is_cuda)),
    ("randint_high_size", lambda L: (tuple(L.randint(5, (2, 3)).shape), L.randint(5, (2, 3)).dtype.is_floating_point,
                                     tuple(L.randint(2, 5, (4,)).shape), tuple(L.randint(5, size=(2,)).shape))),
    ("cat_axis_alias", lambda L: L.cat([L.zeros(1, 2), L.ones(1, 2)], axis=1).tolist()),
    ("concat_axis_alias", lambda L: L.concat([L.zeros(1, 2), L.ones(1, 2)], axis=0).tolist()),
    ("where_method", lambda L: L.tensor([1.0, -1.0]).where(L.tensor([True, False]), L.tensor(0.0)).tolist()),
]


@pytest.mark.parametrize("name,fn", METADATA, ids=[m[0] for m in METADATA])
def test_tensor_methods_match_torch(name, fn):
    e, t = both(fn)
    assert e == t


def test_inplace_shape_changes_follow_autograd_rules_like_torch():
    for lib in (ember, torch):
        leaf = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            leaf.unsqueeze_(0)
        a = lib.ones(3, requires_grad=True)
        b = a * 1
        c = b * b  # saves b
        b.unsqueeze_(0)
        with pytest.raises(RuntimeError, match="modified by an in-?place operation"):
            c.sum().backward()
        d = a * 2
        d.unsqueeze_(0)
        d.sum().backward()  # nothing saved: fine
        assert tuple(a.grad.shape) == (3,)
