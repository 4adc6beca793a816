"""``keras.applications.imagenet_utils``: ImageNet input preprocessing (Keras's three modes) and
``decode_predictions``, which reads ImageNet's class index through ``keras.utils.get_file`` (Keras's URL, cache
place ``~/.keras/models`` and checksum).

>>> import numpy as np
>>> from ember.keras.applications import imagenet_utils
>>> imagenet_utils.preprocess_input(np.full((1, 2, 2, 3), 255.0), mode="tf").max()
np.float32(1.0)
"""

from __future__ import annotations

import json

import numpy as np

CLASS_INDEX_URL = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
_CLASS_INDEX: list = []  # read once: {"0": ["n01440764", "tench"], ...}


def preprocess_caffe(x, data_format=None):
    """'caffe' mode: RGB -> BGR and subtract ImageNet's mean pixel (ResNet50, VGG16)."""
    x = np.asarray(x, dtype="float32")[..., ::-1]
    return x - np.array([103.939, 116.779, 123.68], "float32")


def preprocess_tf(x, data_format=None):
    """'tf' mode: scale pixels from [0, 255] to [-1, 1] (ResNet50V2, MobileNetV2)."""
    return np.asarray(x, dtype="float32") / 127.5 - 1.0


def preprocess_torch(x, data_format=None):
    """'torch' mode: scale to [0, 1], then normalise by ImageNet's per-channel mean and std (RGB)."""
    x = np.asarray(x, dtype="float32") / 255.0
    return (x - np.array([0.485, 0.456, 0.406], "float32")) / np.array([0.229, 0.224, 0.225], "float32")


def preprocess_input(x, data_format=None, mode="caffe"):
    """Keras's 'caffe' (default), 'tf' and 'torch' modes, channels_last."""
    modes = {"caffe": preprocess_caffe, "tf": preprocess_tf, "torch": preprocess_torch}
    if mode not in modes:
        raise ValueError(f"imagenet_utils.preprocess_input: mode must be 'caffe', 'tf' or 'torch', got {mode!r}")
    if data_format not in (None, "channels_last"):
        raise ValueError(f"imagenet_utils.preprocess_input: only channels_last data, got data_format={data_format!r}")
    return modes[mode](x)


def _class_index():
    if not _CLASS_INDEX:
        from ..file_utils import get_file

        path = get_file("imagenet_class_index.json", CLASS_INDEX_URL, cache_subdir="models",
                        file_hash=CLASS_INDEX_MD5)
        with open(path) as f:
            table = json.load(f)
        _CLASS_INDEX.append([tuple(table[str(i)]) for i in range(len(table))])
    return _CLASS_INDEX[0]


def decode_predictions(preds, top=5):
    """The ``top`` classes of each row of ``preds`` ``(samples, 1000)``: lists of ``(wordnet_id, name, score)``,
    best first."""
    preds = np.asarray(preds.detach().cpu().numpy() if hasattr(preds, "detach") else preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(f"decode_predictions: expects ImageNet scores of shape (samples, 1000), got "
                         f"{preds.shape}")
    classes = _class_index()
    out = []
    for row in preds:
        best = np.argsort(row)[::-1][:top]
        out.append([(*classes[i], row[i]) for i in best])
    return out
