"""torch.sparse's names over dense storage (ember/sparse.py): values equal torch's, the one warning, errors."""
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

COO = [  # (indices, values, size)
    ([[0, 1, 1, 2], [2, 0, 0, 1]], [3.0, 4.0, 5.0, 1.0], (3, 3)),  # a duplicate entry: summed
    ([[0, 2], [1, 0]], [1.5, -2.0], None),  # size inferred from the largest index
    ([[1, 0]], [[1.0, 2.0], [3.0, 4.0]], (2, 2)),  # hybrid: one sparse dim, values (nnz, 2)
    ([[0, 0, 1], [0, 1, 1], [1, 0, 1]], [1.0, 2.0, 3.0], (2, 2, 2)),
]


@pytest.mark.parametrize("indices,values,size", COO)
def test_sparse_coo_tensor_equals_torch(indices, values, size):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = (indices, values) + ((size,) if size is not None else ())
        ours = ember.sparse_coo_tensor(*args)
        ref = torch.sparse_coo_tensor(*args).to_dense()
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())


def test_spmm_and_sparse_mm_equal_dense_matmul():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 5)).astype("float32"), rng.normal(size=(5, 3)).astype("float32")
    ref = torch.sparse.mm(torch.tensor(a).to_sparse(), torch.tensor(b)).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in (ember.spmm, ember.sparse.mm):
            np.testing.assert_allclose(fn(ember.tensor(a).to_sparse(), ember.tensor(b)).numpy(), ref, rtol=1e-6)
        assert ember.tensor(a).to_sparse().coalesce().to_dense(ember.float64).dtype == ember.float64


def test_gradient_flows_through_a_sparse_matmul():
    w = ember.randn(3, 2, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adj = ember.sparse_coo_tensor([[0, 1, 2], [1, 2, 0]], [1.0, 1.0, 1.0], (3, 3))
    ember.spmm(adj, w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.ones((3, 2)))


def test_dense_storage_is_said_once(monkeypatch):
    from ember import sparse
    monkeypatch.setattr(sparse, "_WARNED", [False])
    with pytest.warns(UserWarning, match="no sparse layout"):
        ember.ones(2, 2).to_sparse()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.ones(2, 2).to_sparse()


@pytest.mark.parametrize("indices,values,match", [
    ([0, 1], [1.0, 2.0], "indices must be 2-D"),
    ([[0, 1]], [1.0], "2 index columns but 1 values"),
])
def test_bad_coo_input_is_named(indices, values, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=match):
            ember.sparse_coo_tensor(indices, values, (2, 2))


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_size_as_a_keyword_like_torch(name):  # gat's torch.empty(size=(...)): both spellings, one shape
    assert tuple(getattr(ember, name)(size=(2, 3)).shape) == tuple(getattr(torch, name)(size=(2, 3)).shape)
    with pytest.raises(TypeError, match="positionally and size="):
        getattr(ember, name)(2, size=(2, 3))
