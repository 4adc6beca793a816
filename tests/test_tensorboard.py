"""SummaryWriter and keras.callbacks.TensorBoard: every kind written, then read back by TensorBoard's own
EventAccumulator with its values and steps; bad input rows; the Keras 3 layout of the callback."""
from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest

pytest.importorskip("tensorboard")
pytest.importorskip("PIL")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

import ember  # noqa: E402
from ember import keras, nn  # noqa: E402
from ember.utils.tensorboard import SummaryWriter  # noqa: E402


def read(path):
    return EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0, "histograms": 0,
                                                      "images": 0}).Reload()


def tensor_values(acc, tag):
    return [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]


def png_size(data: bytes):
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(data))
    return img.size, img.mode


# -------------------------------------------------------------------------------- one row per kind
def _scalar(w):
    for step, v in enumerate([1.0, 0.5, 0.25]):
        w.add_scalar("loss", v, step)
    w.add_scalar("as_tensor", ember.tensor(2.5), 7)


def _scalar_check(acc):
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(0, 1.0), (1, 0.5), (2, 0.25)]
    assert [(e.step, e.value) for e in acc.Scalars("as_tensor")] == [(7, 2.5)]


def _new_style(w):
    w.add_scalar("acc", 0.75, 3, new_style=True)
    w.add_scalar("acc64", 1 / 3, 4, new_style=True, double_precision=True)


def _new_style_check(acc):
    assert [(s, float(v)) for s, v in tensor_values(acc, "acc")] == [(3, 0.75)]
    assert tensor_values(acc, "acc64")[0][1].dtype == np.float64
    assert float(tensor_values(acc, "acc64")[0][1]) == 1 / 3


def _nonfinite(w):
    w.add_scalar("bad", float("nan"), 0)
    w.add_scalar("bad", float("inf"), 1)
    w.add_scalar("bad", ember.tensor(float("-inf")), 2)


def _nonfinite_check(acc):
    vals = [e.value for e in acc.Scalars("bad")]
    assert math.isnan(vals[0]) and vals[1] == math.inf and vals[2] == -math.inf


VALUES = np.random.default_rng(0).normal(size=1000)


def _histogram(w):
    w.add_histogram("weights", VALUES, 5)
    w.add_histogram("weights_auto", ember.tensor(VALUES.astype(np.float32)), 6, bins="auto")


def _histogram_check(acc):
    h = acc.Histograms("weights")[0]
    assert h.step == 5 and h.histogram_value.num == 1000 and sum(h.histogram_value.bucket) == 1000
    assert h.histogram_value.min == pytest.approx(VALUES.min()) and h.histogram_value.max == pytest.approx(VALUES.max())
    assert h.histogram_value.sum == pytest.approx(VALUES.sum())
    assert sum(acc.Histograms("weights_auto")[0].histogram_value.bucket) == 1000


def _images(w):
    w.add_image("chw_float", np.linspace(0, 1, 3 * 8 * 10).reshape(3, 8, 10), 1)
    w.add_image("hwc_uint8", np.full((6, 5, 3), 200, np.uint8), 2, dataformats="HWC")
    w.add_image("hw_gray", ember.rand(4, 7), 3, dataformats="HW")
    w.add_images("batch", np.random.rand(5, 1, 8, 8).astype(np.float32), 4)
    w.add_images("batch_rgba", np.zeros((2, 4, 4, 4), np.uint8), 4, dataformats="NHWC")


def _images_check(acc):
    got = {t: acc.Images(t)[0] for t in ["chw_float", "hwc_uint8", "hw_gray", "batch", "batch_rgba"]}
    assert png_size(got["chw_float"].encoded_image_string) == ((10, 8), "RGB")
    assert png_size(got["hwc_uint8"].encoded_image_string) == ((5, 6), "RGB")
    assert png_size(got["hw_gray"].encoded_image_string) == ((7, 4), "L")
    assert png_size(got["batch"].encoded_image_string) == ((24, 16), "L")  # 5 images: 3 columns, 2 rows
    assert png_size(got["batch_rgba"].encoded_image_string) == ((8, 4), "RGBA")
    import io

    from PIL import Image

    px = np.asarray(Image.open(io.BytesIO(got["hwc_uint8"].encoded_image_string)))
    assert (px == 200).all() and got["hw_gray"].step == 3


def _figure(w):
    plt = pytest.importorskip("matplotlib.pyplot")
    fig = plt.figure(figsize=(2, 1.5), dpi=50)
    plt.plot([0, 1], [1, 0])
    w.add_figure("plot", fig, 9)


def _figure_check(acc):
    ev = acc.Images("plot")[0]
    assert ev.step == 9 and png_size(ev.encoded_image_string) == ((100, 75), "RGBA")


def _text(w):
    w.add_text("notes", "lr **0.1**", 2)


def _text_check(acc):
    ((step, value),) = tensor_values(acc, "notes/text_summary")
    assert step == 2 and value.tolist() == [b"lr **0.1**"]


def _pr(w):
    w.add_pr_curve("pr", np.array([1, 0, 1, 1, 0]), np.array([0.9, 0.2, 0.6, 0.4, 0.7]), 1, num_thresholds=11)


def _pr_check(acc):
    ((step, data),) = tensor_values(acc, "pr")
    assert step == 1 and data.shape == (6, 11)
    tp, fp, tn, fn, precision, recall = data[:, 5]  # threshold 0.5: predicted positive 0.9, 0.6, 0.7
    assert (tp, fp, tn, fn) == (2, 1, 1, 1)
    assert precision == pytest.approx(2 / 3) and recall == pytest.approx(2 / 3)


def _graph(w):
    w.add_graph(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)), ember.randn(5, 4))


def _graph_check(acc):
    nodes = {n.name: n for n in acc.Graph().node}
    assert "Sequential/Linear[0]/weight" in nodes and "input/input.0" in nodes and "output/output.0" in nodes
    relu = next(n for name, n in nodes.items() if name.startswith("Sequential/ReLU[1]/"))
    assert relu.op == "relu" and relu.input[0].startswith("Sequential/Linear[0]/linear")
    assert [d.size for d in relu.attr["_output_shapes"].list.shape[0].dim] == [5, 3]


KINDS = {
    "scalar": (_scalar, _scalar_check),
    "scalar_new_style": (_new_style, _new_style_check),
    "scalar_nonfinite": (_nonfinite, _nonfinite_check),
    "histogram": (_histogram, _histogram_check),
    "images": (_images, _images_check),
    "figure": (_figure, _figure_check),
    "text": (_text, _text_check),
    "pr_curve": (_pr, _pr_check),
    "graph": (_graph, _graph_check),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_kind_reads_back(kind, tmp_path):
    write, check = KINDS[kind]
    with SummaryWriter(tmp_path) as w:
        write(w)
    check(read(tmp_path))


def test_flush_makes_events_visible_while_open(tmp_path):
    w = SummaryWriter(tmp_path, flush_secs=3600)
    w.add_scalar("x", 1.0, 0)
    w.flush()  # the background thread has written it: a reader sees it before close()
    assert [e.value for e in read(tmp_path).Scalars("x")] == [1.0]
    w.close()
    w.add_scalar("x", 2.0, 1)  # reopens a new event file, as PyTorch's writer does
    w.close()
    assert sorted(e.value for e in read(tmp_path).Scalars("x")) == [1.0, 2.0]


def test_add_scalars_writes_one_run_per_key(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalars("loss", {"train": 1.0, "val": 2.0}, 3)
    for key, value in [("train", 1.0), ("val", 2.0)]:
        assert [(e.step, e.value) for e in read(tmp_path / f"loss_{key}").Scalars("loss")] == [(3, value)]


def test_add_hparams_writes_a_session_run(tmp_path):
    from tensorboard.plugins.hparams import metadata

    with SummaryWriter(tmp_path) as w:
        w.add_hparams({"lr": 0.1, "optimizer": "adam", "bn": True}, {"hparam/accuracy": 0.9}, run_name="trial")
    acc = read(tmp_path / "trial")
    content = acc.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    start = metadata.parse_session_start_info_plugin_data(content)
    assert start.hparams["lr"].number_value == 0.1 and start.hparams["optimizer"].string_value == "adam"
    experiment = metadata.parse_experiment_plugin_data(acc.SummaryMetadata(metadata.EXPERIMENT_TAG).plugin_data.content)
    assert [m.name.tag for m in experiment.metric_infos] == ["hparam/accuracy"]
    assert [e.value for e in acc.Scalars("hparam/accuracy")] == [pytest.approx(0.9)]


def test_add_embedding_writes_projector_files(tmp_path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    mat = np.arange(12, dtype=np.float32).reshape(4, 3)
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(mat, metadata=["a", "b", "c", "d"], label_img=np.zeros((4, 1, 5, 5)), tag="emb")
    config = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(), ProjectorConfig())
    (emb,) = config.embeddings
    assert emb.tensor_name == "emb:00000" and list(emb.sprite.single_image_dim) == [5, 5]
    assert np.loadtxt(tmp_path / emb.tensor_path, delimiter="\t").tolist() == mat.tolist()
    assert (tmp_path / emb.metadata_path).read_text().split() == ["a", "b", "c", "d"]
    assert png_size((tmp_path / emb.sprite.image_path).read_bytes())[0] == (10, 10)


def test_default_log_dir_is_runs_date_host(tmp_path, monkeypatch):
    import socket

    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.close()
    assert re.fullmatch(r"runs/[A-Z][a-z]{2}\d\d_\d\d-\d\d-\d\d_" + re.escape(socket.gethostname()) + "_lr0.1",
                        w.get_logdir())
    assert any(f.startswith("events.out.tfevents.") for f in os.listdir(w.get_logdir()))


# ---------------------------------------------------------------------------------------- bad input
BAD = [
    ("add_image", (np.zeros((5, 4, 4)),), {}, ValueError, ["5 channels", "CHW", "HWC"]),
    ("add_image", (np.zeros((4, 4)),), {}, ValueError, ["2-d array does not match CHW", "HW"]),
    ("add_image", (np.zeros((3, 4, 4), np.int64),), {}, ValueError, ["unsupported dtype int64", "uint8", "float"]),
    ("add_image", (np.zeros((3, 4, 4)),), {"dataformats": "XYZ"}, ValueError, ["unknown dataformats", "NCHW"]),
    ("add_images", (np.zeros((3, 4, 4)),), {}, ValueError, ["3-d array does not match NCHW"]),
    ("add_scalar", (np.ones(3),), {}, ValueError, ["single number", "(3,)"]),
    ("add_pr_curve", (np.ones(3), np.ones(2)), {}, ValueError, ["3 values but predictions 2"]),
    ("add_pr_curve", (np.ones(2), np.array([0.5, 2.0])), {}, ValueError, ["[0, 1]"]),
    ("add_hparams", ({"x": [1, 2]}, {}), {}, TypeError, ["'x'", "list"]),
]


@pytest.mark.parametrize("method, args, kwargs, exc, words", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_names_what_was_expected(method, args, kwargs, exc, words, tmp_path):
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(exc) as info:
            getattr(w, method)("tag", *args, **kwargs) if method != "add_hparams" else w.add_hparams(*args)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_unwritable_log_dir_fails_at_construction_with_the_path(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=re.escape(str(blocker / "logs"))):
        SummaryWriter(blocker / "logs")


def test_histogram_leaves_out_nonfinite_values_with_a_warning(tmp_path):
    with SummaryWriter(tmp_path) as w, pytest.warns(RuntimeWarning, match="2 NaN/Inf"):
        w.add_histogram("h", np.array([1.0, np.nan, 2.0, np.inf]), 0)
    assert read(tmp_path).Histograms("h")[0].histogram_value.num == 2


# ------------------------------------------------------------------------------------ Keras callback
def test_keras_callback_writes_keras3_layout(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(4,), name="hidden"),
                              keras.layers.Dense(3, activation="softmax", name="out")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = np.random.rand(64, 4).astype("float32"), np.random.randint(0, 3, 64)
    tb = keras.callbacks.TensorBoard(tmp_path, histogram_freq=1, write_images=True, update_freq=2,
                                     profile_batch=(2, 3))
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0, callbacks=[tb])
    train, val = read(tmp_path / "train"), read(tmp_path / "validation")
    assert set(train.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss",
                                            "batch_accuracy"}
    assert [(e.step, e.value) for e in train.Scalars("epoch_loss")] == [
        (i, pytest.approx(v)) for i, v in enumerate(history.history["loss"])]
    assert [e.step for e in train.Scalars("batch_loss")] == [2, 4, 6]  # 3 batches an epoch, every 2nd overall
    assert [e.value for e in train.Scalars("epoch_learning_rate")] == [pytest.approx(0.01)] * 2
    assert [e.value for e in val.Scalars("epoch_accuracy")] == [pytest.approx(v)
                                                                 for v in history.history["val_accuracy"]]
    assert [e.step for e in val.Scalars("evaluation_loss_vs_iterations")] == [3, 6]
    weights = [w.path for w in model.weights]
    assert sorted(train.Tags()["histograms"]) == sorted(f"{p}/histogram" for p in weights)
    assert sorted(train.Tags()["images"]) == sorted(f"{p}/image" for p in weights)
    assert any(n.name.startswith("sequential/hidden/") or n.name.startswith(f"{model.name}/hidden/")
               for n in train.Graph().node)
    traces = [os.path.join(r, f) for r, _, fs in os.walk(tmp_path / "train" / "plugins" / "profile") for f in fs]
    assert len(traces) == 1 and traces[0].endswith(".pt.trace.json")


def test_keras_callback_rejects_bad_arguments():
    with pytest.raises(ValueError, match="profile_batch must be"):
        keras.callbacks.TensorBoard(profile_batch=(5, 2))
    with pytest.raises(ValueError, match="update_freq"):
        keras.callbacks.TensorBoard(update_freq="often")


def test_c_crc32c_writes_the_same_records_as_tensorboards_own():
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as python_crc
    from tensorboard.summary.writer import record_writer

    from ember.utils.tensorboard import writer

    pytest.importorskip("google_crc32c")
    assert writer.C_CRC32C and record_writer.masked_crc32c is not python_crc
    for n in (0, 1, 8, 12, 63, 1000, 4096):
        data = os.urandom(n)
        assert record_writer.masked_crc32c(data) == python_crc(data), n
