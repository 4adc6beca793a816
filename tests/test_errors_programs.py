"""Bad inputs that the newer APIs (linalg, distributions, vision models and transforms, DataLoader, ember.load,
optimizers, Keras fit/layers) allow, found while running public example programs: each row is the call, the
error type and the words the message must hold (the op or layer, the shapes or values, and a fix)."""

from __future__ import annotations

import functools
import os
import tempfile
import zipfile

import numpy as np
import pytest

import ember
from ember import keras

HERE = os.path.basename(__file__)


def _tmp_file(data: bytes) -> str:
    path = os.path.join(tempfile.mkdtemp(), "model.pt")
    with open(path, "wb") as f:
        f.write(data)
    return path


def _torch_zip() -> str:  # the layout torch.save writes: a zip with a pickle inside
    path = os.path.join(tempfile.mkdtemp(), "model.pt")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    return path


def _dense_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@functools.cache
def _resnet18():  # built once: its 11M weights take seconds to initialise
    return ember.vision.models.resnet18()


def _x(*shape):
    return np.zeros(shape, "float32")


class _FailingDataset(ember.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        raise KeyError(f"no sample {i}")


# (id, call, error type, words the message must contain, whether it carries this file's line)
CASES = [
    ("linalg_inv_singular", lambda: ember.linalg.inv(ember.zeros(2, 2)), ember.linalg.LinAlgError,
     ["linalg.inv", "(2, 2)", "singular", "linalg.pinv", "eps * I"], True),
    ("linalg_solve_singular", lambda: ember.linalg.solve(ember.zeros(3, 3), ember.ones(3)), ember.linalg.LinAlgError,
     ["linalg.solve", "(3, 3)", "singular", "linalg.pinv"], True),
    ("linalg_det_not_square", lambda: ember.linalg.det(ember.ones(2, 3)), RuntimeError,
     ["linalg.det", "2 by 3", "linalg.svd"], True),
    ("bernoulli_probs", lambda: ember.distributions.Bernoulli(probs=ember.tensor([1.5])), ValueError,
     ["Bernoulli", "[0, 1]", "1.5"], True),
    ("uniform_bounds", lambda: ember.distributions.Uniform(2.0, 1.0), ValueError, ["Uniform", "low < high"], True),
    ("mvn_not_pd", lambda: ember.distributions.MultivariateNormal(ember.zeros(2), ember.tensor([[1.0, 2.0],
                                                                                              [2.0, 1.0]])),
     ValueError, ["MultivariateNormal", "covariance_matrix", "PositiveDefinite", "validate_args=False"], True),
    ("mvn_shapes", lambda: ember.distributions.MultivariateNormal(ember.zeros(3), ember.eye(2)), ValueError,
     ["MultivariateNormal", "(3,)", "(2, 2)"], True),
    ("resnet_batch_of_one", lambda: _resnet18()(ember.ones(1, 3, 8, 8)), ValueError,
     ["batch_norm", "(1, 128, 1, 1)", "model.eval()"], True),
    ("resnet_gray_input", lambda: _resnet18()(ember.ones(2, 1, 32, 32)), RuntimeError,
     ["conv2d", "(2, 1, 32, 32)", "3 channels", "in_channels"], True),
    ("pool_tiny_input", lambda: ember.nn.MaxPool2d(3, 2)(ember.ones(1, 192, 1, 1)), RuntimeError,
     ["max_pool2d", "too small", "224x224"], True),
    ("normalize_channels", lambda: ember.vision.transforms.Normalize((0.5,), (0.5, 0.5))(ember.ones(3, 4, 4)),
     ValueError, ["Normalize", "std has 2 values", "3 channels", "one value per channel"], None),
    ("dataloader_not_dataset", lambda: ember.utils.data.DataLoader(5), TypeError,
     ["DataLoader", "got int", "TensorDataset"], None),
    ("dataloader_worker_error", lambda: list(ember.utils.data.DataLoader(_FailingDataset(), num_workers=1)),
     KeyError, ["DataLoader worker process 0", "no sample 0"], None),
    ("load_torch_zip", lambda: ember.load(_torch_zip()), ValueError,
     ["zip archive", "never unpickles", "safetensors.torch import save_file"], None),
    ("load_not_safetensors", lambda: ember.load(_tmp_file(b"hello, not a checkpoint")), ValueError,
     ["not a safetensors file", "nothing in the file was executed"], None),
    ("optimizer_given_module", lambda: ember.optim.Adam(ember.nn.Linear(2, 2)), TypeError,
     ["Adam", "got Linear", "model.parameters()"], True),
    ("optimizer_given_tensor", lambda: ember.optim.SGD(ember.zeros(2, requires_grad=True), lr=0.1), TypeError,
     ["SGD", "got a Tensor", "[tensor]"], True),
    ("keras_fit_lengths", lambda: _dense_model().fit(_x(10, 4), _x(8, 1), verbose=0), ValueError,
     ["x sizes: 10", "y sizes: 8", "same number of samples"], None),
    ("keras_conv2d_rank", lambda: keras.layers.Conv2D(4, 3)(_x(2, 28, 28)), ValueError,
     ["Conv2D", "rank 4", "(2, 28, 28)", "x[..., None]"], None),
    ("keras_lstm_rank", lambda: keras.layers.LSTM(4)(_x(2, 28)), ValueError,
     ["LSTM", "(batch, timesteps, features)", "(2, 28)", "x[..., None]"], None),
    ("keras_dense_features", lambda: _dense_model().predict(_x(3, 5), verbose=0), ValueError,
     ["Dense", "last dimension 4", "(3, 5)", "Flatten()"], None),
    ("keras_loss_typo", lambda: _dense_model().compile(optimizer="sgd", loss="categorical_crossentopy"),
     ValueError, ["unknown loss 'categorical_crossentopy'", "did you mean 'categorical_crossentropy'"], None),
    ("keras_optimizer_typo", lambda: _dense_model().compile(optimizer="adamm", loss="mse"), ValueError,
     ["unknown optimizer 'adamm'", "did you mean 'adam'"], None),
]


@pytest.mark.parametrize("call,exc,words,has_line", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(call, exc, words, has_line):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    missing = [w for w in words if w not in msg]
    assert not missing, f"message lacks {missing}: {msg}"
    if has_line:
        assert f"{HERE}:" in msg, f"message does not carry the user's line: {msg}"
        assert getattr(info.value, "_ember_user_error", False), "not marked as a user error"
