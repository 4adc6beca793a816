"""Bad inputs: each row is the input, the error type, and words the message must contain (the op, the shapes,
the fix). Where the core adds the user's source line ("at <file>:<line>: <code>"), the row checks it points
at this file, at the line that made the bad call."""

from __future__ import annotations

import os

import numpy as np
import pytest

import ember
from ember.dtypes import float32
from ember.ops import Aval
from ember.ops._rules import elementwise

HERE = os.path.basename(__file__)


def _ones(*shape, **kw):
    return ember.ones(*shape, **kw)


def _iadd_float_into_int():
    x = ember.ones(2, dtype=ember.int64)
    x += 1.5


def _leaf_inplace():
    x = ember.ones(2, requires_grad=True)
    x.mul_(2)


def _backward_nonscalar():
    (ember.ones(3, requires_grad=True) * 2).backward()


def _backward_bad_gradient_shape():
    (ember.ones(3, requires_grad=True) * 2).backward(gradient=ember.ones(2))


def _set_wrong_shape():
    x = ember.ones(2, 3)
    x[0] = ember.ones(4)


def _bce_model():
    from ember import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    return model


def _dict_with_a_wrong_key():
    from ember import keras

    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    model = keras.Model([a, b], keras.layers.Dense(1)(keras.layers.concatenate([a, b])))
    model({"a": np.ones((2, 3), "float32"), "c": np.ones((2, 2), "float32")})


# (id, call, error type, words the message must contain, whether the message carries this file's line;
#  None: an internal rule called directly, so neither the line nor the user-error mark is added yet)
CASES = [
    # shape mismatches, one per family
    (
        "add_broadcast",
        lambda: _ones(2, 3) + _ones(4),
        ValueError,
        ["add", "(2, 3)", "(4,)", "broadcast"],
        True,
    ),
    ("mul_broadcast", lambda: _ones(5, 1, 3) * _ones(2, 4), ValueError, ["mul", "(5, 1, 3)", "(2, 4)"], True),
    (
        "where_broadcast",
        lambda: ember.where(_ones(2).bool(), _ones(3), _ones(2)),
        ValueError,
        ["where", "(3,)", "(2,)"],
        True,
    ),
    (
        "matmul_inner",
        lambda: ember.randn(64, 784) @ ember.randn(10, 784),
        RuntimeError,
        ["matmul", "(64, 784)", "(10, 784)", "784", "10", "b.T"],
        True,
    ),
    (
        "matmul_0d",
        lambda: ember.matmul(_ones(()), _ones(2)),
        RuntimeError,
        ["matmul", "at least 1 dim"],
        True,
    ),
    (
        "mm_not_2d",
        lambda: ember.mm(_ones(2, 3, 4), _ones(4, 2)),
        RuntimeError,
        ["mm", "2-D", "(2, 3, 4)"],
        True,
    ),
    (
        "bmm_batch",
        lambda: ember.bmm(_ones(2, 3, 4), _ones(3, 4, 5)),
        RuntimeError,
        ["bmm", "(2, 3, 4)", "(3, 4, 5)"],
        True,
    ),
    (
        "cat_sizes",
        lambda: ember.cat([_ones(2, 3), _ones(2, 4)], 0),
        RuntimeError,
        ["cat", "(2, 3)", "(2, 4)"],
        True,
    ),
    (
        "stack_sizes",
        lambda: ember.stack([_ones(2, 3), _ones(3, 2)]),
        RuntimeError,
        ["stack", "(2, 3)", "(3, 2)"],
        True,
    ),
    ("reshape_numel", lambda: _ones(2, 3).reshape(4, 2), RuntimeError, ["reshape", "(4, 2)", "(2, 3)"], True),
    (
        "reshape_two_inferred",
        lambda: _ones(2, 3).reshape(-1, -1),
        RuntimeError,
        ["reshape", "one dimension"],
        True,
    ),
    (
        "view_noncontiguous",
        lambda: _ones(2, 3).t().view(6),
        RuntimeError,
        ["view", "stride", ".reshape("],
        True,
    ),
    ("expand_size", lambda: _ones(2, 3).expand(4, 3), RuntimeError, ["expand", "(4, 3)", "2"], True),
    ("expand_fewer_dims", lambda: _ones(2, 3).expand(3), RuntimeError, ["expand", "(2, 3)"], True),
    ("setitem_shape", _set_wrong_shape, (ValueError, RuntimeError), ["(4,)", "(2, 3)"], True),
    (
        "einsum_operands",
        lambda: ember.einsum("ij,jk->ik", _ones(2, 3)),
        ValueError,
        ["einsum", "2 operands"],
        False,
    ),
    (
        "einsum_sizes",
        lambda: ember.einsum("ij,jk->ik", _ones(2, 3), _ones(4, 5)),
        ValueError,
        ["einsum", "'j'"],
        True,
    ),
    ("split_sections", lambda: _ones(5, 2).split([2, 2]), RuntimeError, ["split", "[2, 2]", "5"], True),
    # bad dims
    ("sum_dim", lambda: _ones(2, 3).sum(2), IndexError, ["sum", "dim 2", "(2, 3)", "[-2, 1]"], True),
    ("mean_dim", lambda: _ones(2, 3).mean(-3), IndexError, ["mean", "-3", "(2, 3)"], True),
    ("softmax_dim", lambda: _ones(2, 3).softmax(5), IndexError, ["softmax", "5", "(2, 3)"], True),
    ("argmax_dim", lambda: _ones(2, 3).argmax(4), IndexError, ["argmax", "4"], True),
    ("transpose_dim", lambda: _ones(2, 3).transpose(0, 2), IndexError, ["transpose", "2", "(2, 3)"], True),
    ("unsqueeze_dim", lambda: _ones(2, 3).unsqueeze(4), IndexError, ["unsqueeze", "4", "(2, 3)"], True),
    ("permute_dims", lambda: _ones(2, 3).permute(0, 0), RuntimeError, ["permute", "(0, 0)", "(2, 3)"], True),
    ("cat_dim", lambda: ember.cat([_ones(2), _ones(2)], 1), IndexError, ["cat", "dim 1"], True),
    ("t_3d", lambda: _ones(2, 3, 4).t(), RuntimeError, ["t()", "(2, 3, 4)", "mT"], True),
    # bad indices
    ("index_range", lambda: _ones(2, 3)[5], IndexError, ["index 5", "size 2", "(2, 3)"], True),
    ("too_many_indices", lambda: _ones(2)[0, 0], IndexError, ["too many indices", "(2,)"], True),
    (
        "float_index_tensor",
        lambda: _ones(3)[ember.tensor([0.5])],
        IndexError,
        ["integer or bool", "float32"],
        True,
    ),
    ("float_index_list", lambda: _ones(3)[[0.5, 1.0]], IndexError, ["long, int or bool"], True),
    (
        "gather_float_index",
        lambda: _ones(2, 3).gather(1, _ones(2, 3)),
        RuntimeError,
        ["gather", "long()"],
        True,
    ),
    (
        "gather_range",
        lambda: _ones(2, 3).gather(1, ember.tensor([[0, 7]])),
        IndexError,
        ["gather", "7", "size 3"],
        True,
    ),
    ("narrow_range", lambda: _ones(4).narrow(0, 2, 5), IndexError, ["narrow", "5", "size (4)"], True),
    ("topk_k", lambda: _ones(3).topk(4), RuntimeError, ["topk", "4", "size 3"], True),
    # dtypes
    (
        "int_requires_grad",
        lambda: _ones(2, dtype=ember.int64, requires_grad=True),
        RuntimeError,
        ["floating-point", "int64", ".float()"],
        True,
    ),
    ("int_iadd_float", _iadd_float_into_int, RuntimeError, ["add_", "float", "int64", "out-of-place"], True),
    (
        "matmul_int_float",
        lambda: _ones(2, 2, dtype=ember.int64) @ _ones(2, 2),
        RuntimeError,
        ["matmul", "int64", "float32", "same dtype"],
        True,
    ),
    (
        "mean_int",
        lambda: _ones(2, dtype=ember.int64).mean(),
        RuntimeError,
        ["mean", "int64", ".float()"],
        True,
    ),
    (
        "masked_fill_mask",
        lambda: _ones(2).masked_fill(_ones(2), 0.0),
        RuntimeError,
        ["masked_fill", "bool"],
        True,
    ),
    ("int_negative_pow", lambda: _ones(2, dtype=ember.int64) ** -1, ValueError, ["pow", "negative"], False),
    ("ragged_list", lambda: ember.tensor([[1, 2], [3]]), TypeError, ["tensor"], True),
    ("bitwise_on_float", lambda: _ones(2) & _ones(2), TypeError, ["bool tensors", "(x > 0)"], False),
    # devices
    ("device_name", lambda: ember.device("tpu"), ValueError, ["'cpu' or 'cuda'", "'tpu'"], False),
    (
        "device_mismatch_rule",
        lambda: elementwise("add", Aval((2,), float32, "cpu"), Aval((2,), float32, "cuda:0")),
        RuntimeError,
        ["add", "cpu", "cuda:0", ".to(device)"],
        None,
    ),  # the rule diagnose() runs
    # autograd and conversions
    ("backward_nonscalar", _backward_nonscalar, RuntimeError, ["scalar", "(3,)", "gradient="], True),
    ("backward_gradient_shape", _backward_bad_gradient_shape, RuntimeError, ["(2,)", "(3,)"], True),
    ("backward_no_grad", lambda: _ones(2).sum().backward(), RuntimeError, ["does not require grad"], True),
    (
        "grad_input_no_grad",
        lambda: ember.autograd.grad((_ones(1, requires_grad=True) * 2).sum(), _ones(1)),
        RuntimeError,
        ["input 0", "requires_grad=True"],
        True,
    ),
    ("leaf_inplace", _leaf_inplace, RuntimeError, ["leaf", "mul_", "no_grad"], True),
    ("item_many", lambda: _ones(2, 3).item(), RuntimeError, ["item()", "6 elements", "(2, 3)"], True),
    ("bool_ambiguous", lambda: bool(_ones(3)), RuntimeError, ["ambiguous", ".any()", ".all()"], True),
    (
        "numpy_requires_grad",
        lambda: _ones(2, requires_grad=True).numpy(),
        RuntimeError,
        ["detach().numpy()"],
        True,
    ),
    ("randint_no_size", lambda: ember.randint(0, 5), TypeError, ["randint", "size"], True),
]


# -- the PyTorch-side APIs of issue 15: every row names the mistake and, in its last words, the fix ----------
def _spd_fail():
    ember.linalg.cholesky(ember.tensor([[1.0, 2.0], [2.0, 1.0]]))


class _NotImportedNet(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = ember.nn.Linear(2, 2)


def _load_unimported(tmp=[]):  # noqa: B006  (a per-process temp dir, made on first use)
    import sys
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), "net.pt")
    ember.save(_NotImportedNet(), path)
    name = _NotImportedNet.__qualname__
    saved = globals().pop(name)  # as if the loading program never defined the class
    try:
        ember.load(path)
    finally:
        globals()[name] = saved
        assert sys.modules[__name__]


def _save_with_lambda():
    import tempfile

    lin = ember.nn.Linear(2, 2)
    lin.act = lambda v: v
    ember.save(lin, os.path.join(tempfile.mkdtemp(), "m.pt"))


def _lbfgs_no_closure():
    ember.optim.LBFGS([ember.zeros(2, requires_grad=True)]).step()


CASES_TORCH_API = [
    ("linalg_inv_not_square", lambda: ember.linalg.inv(_ones(2, 3)), RuntimeError,
     ["linalg.inv", "square", "2 by 3"], True),
    ("linalg_solve_rows", lambda: ember.linalg.solve(ember.eye(3), _ones(2, 4)), RuntimeError,
     ["linalg.solve", "(3, 3)", "(2, 4)", "B needs 3 rows"], True),
    ("linalg_int_input", lambda: ember.linalg.det(ember.eye(2).long()), TypeError,
     ["floating-point", "int64", ".float()"], True),
    ("cholesky_not_pd", _spd_fail, ember.linalg.LinAlgError,
     ["cholesky", "positive-definite", "leading minor of order 2", "A + eps * I"], True),
    ("vector_norm_fro", lambda: ember.linalg.vector_norm(_ones(3), "fro"), ValueError,
     ["vector_norm", "'fro'", "linalg.matrix_norm"], True),
    ("linalg_eig_general", lambda: ember.linalg.eig(_ones(2, 2)), NotImplementedError, ["complex", "linalg.eigh"],
     True),
    ("squeeze_out_of_range", lambda: _ones(2, 3).squeeze(5), IndexError,
     ["squeeze", "dim 5", "(2, 3)", "[-2, 1]"], True),
    ("select_index", lambda: _ones(2, 3).select(1, 3), IndexError, ["select", "index 3", "size 3"], True),
    ("unfold_window", lambda: _ones(4).unfold(0, 5, 1), RuntimeError, ["unfold", "size 5", "size 4"], True),
    ("max_of_empty_dim", lambda: _ones(2, 0).max(1), IndexError,
     ["max", "dim 1", "non-zero size", "x.numel() > 0"], True),
    ("addmm_3d", lambda: ember.addmm(_ones(2, 2), _ones(1, 2, 2), _ones(2, 2)), RuntimeError,
     ["addmm", "mat1", "2-D", "(1, 2, 2)"], True),
    ("diag_3d", lambda: ember.diag(_ones(2, 2, 2)), RuntimeError, ["diag", "(2, 2, 2)", "diag_embed()"], True),
    ("func_grad_not_scalar", lambda: ember.func.grad(lambda x: x * 2)(_ones(3)), RuntimeError,
     ["grad", "single-element", "(3,)", "use jacrev"], True),
    ("vmap_sizes", lambda: ember.func.vmap(lambda a, b: a + b)(_ones(3, 2), _ones(4, 2)), ValueError,
     ["vmap", "same size", "[3, 4]"], True),
    ("functional_call_name", lambda: ember.func.functional_call(ember.nn.Linear(2, 2), {"wieght": _ones(2, 2)},
                                                                (_ones(1, 2),)),
     AttributeError, ["'wieght'", "its names are", "'weight'"], True),
    ("cond_pred_shape", lambda: ember.cond(_ones(3) > 0, lambda v: v, lambda v: v, (_ones(3),)), RuntimeError,
     ["cond", "(3,)", "x.any()"], True),
    ("normal_scale", lambda: ember.distributions.Normal(0.0, -1.0), ValueError,
     ["Normal", "scale", "GreaterThan(lower_bound=0.0)"], True),
    ("categorical_support", lambda: ember.distributions.Categorical(logits=_ones(3)).log_prob(ember.tensor(5)),
     ValueError, ["log_prob", "support", "validate_args=False"], True),
    ("kl_unregistered", lambda: ember.distributions.kl_divergence(
        ember.distributions.Normal(0.0, 1.0), ember.distributions.Exponential(1.0)), NotImplementedError,
     ["(Normal, Exponential)", "@register_kl(P, Q)", "q.log_prob(x)"], True),
    ("lbfgs_without_closure", _lbfgs_no_closure, RuntimeError, ["LBFGS.step", "opt.step(closure)"], True),
    ("embedding_bag_offsets", lambda: ember.nn.EmbeddingBag(5, 2)(ember.tensor([1, 2])), ValueError,
     ["embedding_bag", "needs offsets", "offsets=ember.tensor([0, 3])"], True),
    ("transformer_batch", lambda: ember.nn.Transformer(4, 2, 1, 1, 8)(_ones(3, 2, 4), _ones(3, 5, 4)),
     RuntimeError, ["batch number", "(3, 2, 4)", "(3, 5, 4)", "batch_first=False"], True),
    ("data_parallel_arg", lambda: ember.nn.DataParallel(lambda x: x), TypeError, ["DataParallel", "nn.Module"],
     True),
    ("module_compile_kwarg", lambda: ember.nn.Linear(2, 2).compile(fulgraph=True), TypeError,
     ["compile()", "fulgraph", "fullgraph"], False),
    ("legacy_ctor_device", lambda: ember.FloatTensor(2, device="cuda"), RuntimeError,
     ["FloatTensor", "CPU", "ember.tensor(data, dtype=ember.float32"], True),
    ("dropout1d_rank", lambda: ember.nn.functional.dropout1d(_ones(3)), RuntimeError,
     ["dropout1d", "(3,)", "use F.dropout"], True),
    ("save_module_lambda", _save_with_lambda, TypeError, ["cannot save the function", "model.state_dict()"], True),
    ("load_class_not_imported", _load_unimported, ValueError,
     ["_NotImportedNet", "not defined in this program", "Import it before loading"], True),
    ("vision_weights", lambda: ember.vision.models.resnet18(weights="DEFAULT"), ValueError,
     ["not bundled", "safetensors", "load_state_dict"], True),
    ("image_folder_missing", lambda: ember.vision.datasets.ImageFolder("/no/such/dir"), FileNotFoundError,
     ["/no/such/dir", "does not exist"], None),
    ("color_jitter_hue", lambda: ember.vision.transforms.ColorJitter(hue=0.9), ValueError,
     ["hue", "(-0.5, 0.5)"], None),
]


CASES_TORCH_API += [
    ("keras_input_dict_key", _dict_with_a_wrong_key, ValueError, ["missing ['b']", "['c']", "['a', 'b']"], None),
]


def _keras():
    from ember import keras

    return keras


# Keras preprocessing layers and keras.utils data builders
CASES_TORCH_API += [
    ("keras_augment_fill_mode", lambda: _keras().layers.RandomRotation(0.1, fill_mode="mirror"), ValueError,
     ["RandomRotation", "fill_mode", "'reflect'", "'nearest'"], True),
    ("keras_augment_factor", lambda: _keras().layers.RandomZoom(-1.0), ValueError, ["RandomZoom", "(-1, 1]"], True),
    ("keras_augment_rank", lambda: _keras().layers.RandomTranslation(0.1, 0.1)(np.zeros((2, 3), "float32")),
     ValueError, ["RandomTranslation", "(2, 3)", "(batch, height, width, channels)"], True),
    ("keras_lookup_no_oov", lambda: _keras().layers.StringLookup(vocabulary=["a"], num_oov_indices=0)([["b"]]),
     ValueError, ["StringLookup", "'b'", "set num_oov_indices=1"], True),
    ("keras_lookup_on_symbolic", lambda: _keras().layers.StringLookup(vocabulary=["a"])(_keras().Input((2,))),
     TypeError, ["StringLookup", "runs on data", "layer(x_raw)"], True),
    ("keras_tf_idf_without_weights", lambda: _keras().layers.StringLookup(output_mode="tf_idf", vocabulary=["a"]),
     ValueError, ["tf_idf", "idf_weights"], True),
    ("keras_hashing_salt", lambda: _keras().layers.Hashing(4, salt="pepper"), ValueError,
     ["Hashing", "salt", "pair of integers", "'pepper'"], True),
    ("keras_constraint_unknown", lambda: _keras().layers.Dense(2, kernel_constraint="max_nrom"), ValueError,
     ["unknown constraint", "'max_nrom'", "max_norm"], True),
    ("keras_dot_axes", lambda: _keras().layers.Dot(axes=1)([np.ones((2, 3), "float32"), np.ones((2, 4), "float32")]),
     ValueError, ["Dot", "(2, 3)", "(2, 4)", "axis 1"], True),
    ("keras_bidirectional_initial_state", lambda: _keras().layers.Bidirectional(_keras().layers.GRU(2))(
        np.ones((1, 3, 2), "float32"), initial_state=[np.zeros((1, 2), "float32")]), ValueError,
     ["Bidirectional", "initial_state needs 2", "got 1"], True),
    ("keras_normalization_adapt_given", lambda: _keras().layers.Normalization(mean=0.0, variance=1.0).adapt(
        np.ones((4, 2), "float32")), ValueError, ["Normalization", "adapt()", "mean=/variance="], True),
    ("keras_bad_data_format", lambda: _keras().layers.Conv2D(2, 3, data_format="nhwc"), ValueError,
     ["Conv2D", "'channels_first', 'channels_last'", "'nhwc'"], True),
    ("keras_textvec_rank", lambda: _keras().layers.TextVectorization()(np.array([["a", "b"]])), ValueError,
     ["TextVectorization", "(batch,)", "(1, 2)"], True),
    ("keras_image_dir_missing", lambda: _keras().utils.image_dataset_from_directory("/no/such/dir"),
     FileNotFoundError, ["/no/such/dir"], True),
    ("keras_load_img_missing", lambda: _keras().utils.load_img("/no/such.png"), FileNotFoundError,
     ["/no/such.png"], True),
    ("keras_timeseries_stride", lambda: _keras().utils.timeseries_dataset_from_array(np.arange(10), None, 3,
                                                                                     sequence_stride=0),
     ValueError, ["sequence_stride", "(0, 10)"], True),
    ("keras_split_sizes", lambda: _keras().utils.split_dataset(np.arange(10), left_size=1.5), ValueError,
     ["left_size", "float in (0, 1)", "1.5"], True),
]


def test_enough_cases():
    assert len(CASES) >= 30
    assert len(CASES_TORCH_API) >= 30


@pytest.mark.parametrize("call,exc,words,has_line", [c[1:] for c in CASES + CASES_TORCH_API],
                         ids=[c[0] for c in CASES + CASES_TORCH_API])
def test_bad_input(call, exc, words, has_line):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    missing = [w for w in words if w not in msg]
    assert not missing, f"message lacks {missing}: {msg}"
    if has_line is None:
        return
    if has_line:
        assert f"at {HERE}:" in msg or f"at tests/{HERE}:" in msg or f"{os.sep}{HERE}:" in msg, (
            f"message does not carry the user's line: {msg}"
        )
    assert getattr(info.value, "_ember_user_error", False), "not marked as a user error (traceback trimming)"


WARNINGS = [  # mistakes PyTorch lets pass with a warning (or silently): Ember warns, naming what happened
    ("nonleaf_grad", lambda: (_ones(2, requires_grad=True) * 2).grad, ["non-leaf", ".retain_grad()"]),
    ("dropout2d_2d", lambda: ember.nn.functional.dropout2d(_ones(3, 4)), ["2-D input", "F.dropout"]),
    ("dropout2d_3d", lambda: ember.nn.functional.dropout2d(_ones(2, 3, 4)), ["(N, C, L)", "F.dropout1d"]),
    ("dataset_stops_early", lambda: list(_ShortDataset()), ["stopped after 3 items", "len() says 5",
                                                            "dataset[3]"]),
    ("keras_bce_on_class_labels", lambda: _bce_model().fit(np.zeros((8, 4), "float32"), np.arange(8) % 5, verbose=0),
     ["binary_crossentropy", "[0, 4]", "sparse_categorical_crossentropy"]),
]



class _ShortDataset(ember.utils.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return [1, 2, 3][i]  # a bug: IndexError at 3 ends a for-loop early


@pytest.mark.parametrize("call,words", [w[1:] for w in WARNINGS], ids=[w[0] for w in WARNINGS])
def test_warns_instead_of_staying_silent(call, words):
    with pytest.warns(UserWarning) as record:
        call()
    msg = " ".join(str(r.message) for r in record)
    assert not [w for w in words if w not in msg], msg
    assert any(os.path.basename(r.filename) == HERE for r in record), "the warning should point at the caller"
