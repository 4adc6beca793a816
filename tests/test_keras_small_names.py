"""Small ``keras.utils`` / ``keras.backend`` / ``keras.applications`` / ``keras.models`` names that programs call,
against real Keras 3 where it gives values (the same data through both)."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

import ember  # noqa: E402
from ember import keras  # noqa: E402

PIXELS = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_imagenet_preprocess_input_modes_match_keras(mode):
    want = real.applications.imagenet_utils.preprocess_input(PIXELS.copy(), mode=mode)
    np.testing.assert_allclose(keras.applications.imagenet_utils.preprocess_input(PIXELS, mode=mode), _np(want),
                               rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("module", ["resnet50", "vgg19", "resnet_v2", "mobilenet_v2", "efficientnet"])
def test_application_module_preprocess_input_matches_keras(module):
    want = getattr(real.applications, module).preprocess_input(PIXELS.copy())
    np.testing.assert_allclose(getattr(keras.applications, module).preprocess_input(PIXELS), _np(want),
                               rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("args", [(1,), ((1, 2),), (1, 2), (1, 2, 3), ([1, 2],)])
def test_pack_and_unpack_x_y_sample_weight_like_keras(args):
    assert keras.utils.pack_x_y_sample_weight(*args) == real.utils.pack_x_y_sample_weight(*args)
    data = real.utils.pack_x_y_sample_weight(*args)
    assert keras.utils.unpack_x_y_sample_weight(data) == real.utils.unpack_x_y_sample_weight(data)


@pytest.mark.parametrize("dtype", ["float64", "bfloat16", "int8", "uint16", "bool", np.float32, ember.int32])
def test_backend_dtype_helpers_like_keras(dtype):
    for name in ("standardize_dtype", "is_float_dtype", "is_int_dtype"):
        assert getattr(keras.backend, name)(dtype) == getattr(real.backend, name)(dtype), name


def test_source_inputs_uids_and_keras_tensors():
    a, b, unused = keras.Input((3,)), keras.Input((3,)), keras.Input((3,))
    out = keras.layers.Dense(2)(keras.layers.concatenate([b, keras.layers.Dense(3)(a)]))
    assert keras.utils.get_source_inputs(out) == [b, a]
    assert keras.utils.get_source_inputs(unused) == [unused]
    assert keras.utils.is_keras_tensor(out) and not keras.backend.is_keras_tensor(np.zeros(2))
    first = keras.backend.get_uid("probe")
    assert keras.backend.get_uid("probe") == first + 1
    with pytest.raises(TypeError, match="symbolic"):
        keras.utils.get_source_inputs(np.zeros(3))
    with pytest.raises(ValueError, match="channels_last"):
        keras.backend.set_image_data_format("channels_middle")


def test_models_save_model_and_utils_serialization(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    keras.models.save_model(model, tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)))
    config = keras.utils.serialize_keras_object(keras.layers.Dense(4, name="d"))
    assert keras.utils.deserialize_keras_object(config).get_config() == keras.layers.Dense(4, name="d").get_config()
    assert keras.utils.Progbar(10).target == 10
