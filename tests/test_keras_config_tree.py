"""keras.config, keras.tree, keras.dtype_policies and keras.preprocessing against real Keras 3 (torch
backend): the same structures give the same leaves / paths / results; fit honours the config caps."""

import collections
import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

Pair = collections.namedtuple("Pair", "x y")
STRUCTURES = [1, None, [1, 2], (1, [2, (3,)]), {"b": [1, 2], "a": (3, None)}, [Pair(1, 2), {"z": 3, "y": [4]}],
              [{"j": 1, "i": [2, 3]}], []]  # (a dict inside a dict: Keras 3.15 keeps its insertion order)


@pytest.mark.parametrize("s", STRUCTURES, ids=range(len(STRUCTURES)))
def test_tree_matches_keras(s):
    ours, theirs = keras.tree, real.tree
    assert ours.flatten(s) == theirs.flatten(s)
    assert ours.flatten_with_path(s) == theirs.flatten_with_path(s)
    assert ours.is_nested(s) == theirs.is_nested(s)
    assert ours.map_structure(lambda v: None if v is None else v * 2, s) == theirs.map_structure(
        lambda v: None if v is None else v * 2, s)
    leaves = list(range(len(theirs.flatten(s))))
    assert ours.pack_sequence_as(s, leaves) == theirs.pack_sequence_as(s, leaves)
    assert ours.lists_to_tuples(s) == theirs.lists_to_tuples(s)


def test_tree_structure_errors():
    with pytest.raises(ValueError):
        keras.tree.assert_same_structure([1, 2], [1, [2]])
    with pytest.raises(ValueError, match="leaves"):
        keras.tree.pack_sequence_as([1, 2], [1])
    keras.tree.assert_same_structure({"a": [1]}, {"a": [5]})


def test_config_and_dtype_policies_match_keras():
    for name in ("floatx", "epsilon", "image_data_format", "is_interactive_logging_enabled", "max_epochs",
                 "max_steps_per_epoch"):
        assert getattr(keras.config, name)() == getattr(real.config, name)(), name
    for policy in ("float32", "mixed_float16", "mixed_bfloat16", "float64"):
        assert keras.dtype_policies.serialize(keras.dtype_policies.get(policy)) == real.dtype_policies.serialize(
            real.dtype_policies.get(policy))
        back = keras.dtype_policies.deserialize(real.dtype_policies.serialize(real.dtype_policies.get(policy)))
        assert back.compute_dtype == real.dtype_policies.get(policy).compute_dtype


class _Count(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.steps, self.epochs = 0, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def test_fit_honours_config_caps_and_logging_switch(capsys):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((64, 3), "float32"), np.ones((64, 1), "float32")
    count = _Count()
    try:
        keras.config.set_max_epochs(2)
        keras.config.set_max_steps_per_epoch(3)
        keras.config.disable_interactive_logging()
        model.fit(x, y, epochs=5, batch_size=4, callbacks=[count])
    finally:
        keras.config.set_max_epochs(None)
        keras.config.set_max_steps_per_epoch(None)
        keras.config.enable_interactive_logging()
    assert (count.epochs, count.steps) == (2, 6)
    assert "━" not in capsys.readouterr().out  # no progress bar while interactive logging is off
    model.fit(x, y, epochs=1, batch_size=32, callbacks=[count], verbose=0)
    assert count.steps == 2


def test_preprocessing_names_are_keras_utils():
    assert keras.preprocessing.sequence.pad_sequences([[1, 2], [3]], maxlen=3).tolist() == \
        real.preprocessing.sequence.pad_sequences([[1, 2], [3]], maxlen=3).tolist()
    assert keras.preprocessing.image.img_to_array is keras.utils.img_to_array
