"""``Summary`` protos for each kind TensorBoard shows, built with the ``tensorboard`` package's own protos and
plugin metadata helpers (no TensorFlow needed). Images are PNG-encoded by Pillow.

Example:
    >>> from ember.utils.tensorboard.summary import scalar
    >>> s = scalar("loss", 0.5)
    >>> s.value[0].tag, s.value[0].simple_value
    ('loss', 0.5)
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.compat.proto.histogram_pb2 import HistogramProto
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2 as hparams_data
from tensorboard.plugins.pr_curve import metadata as pr_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.plugins.text import metadata as text_metadata
from tensorboard.util import tensor_util


def to_numpy(x) -> np.ndarray:
    """An Ember tensor / Keras variable / array-like as a NumPy array (copied to the host)."""
    if hasattr(x, "detach") and hasattr(x, "_data"):
        x = x.detach()
    return np.asarray(x)


def to_float(value, what: str) -> float:
    arr = to_numpy(value)
    if arr.size != 1:
        raise ValueError(f"{what}: expected a single number, got an array of shape {tuple(arr.shape)}; "
                         "reduce it first (e.g. .mean())")
    return float(arr.reshape(()))  # NaN and Inf are kept: TensorBoard draws them as such


# ------------------------------------------------------------------------------------------------- scalars
def scalar(tag: str, value, new_style: bool = False, double_precision: bool = False) -> Summary:
    """A scalar: the classic ``simple_value`` field, or (``new_style``) a rank-0 tensor with the scalar
    plugin's metadata, as TensorBoard 2 writes it."""
    v = to_float(value, f"add_scalar({tag!r})")
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=v)])
    tensor = (tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, double_val=[v]) if double_precision
              else tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[v]))
    meta = scalar_metadata.create_summary_metadata(display_name="", description="")
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=meta)])


# ------------------------------------------------------------------------------------------------ histograms
def _tensorflow_edges() -> np.ndarray:
    """TensorFlow's default histogram edges: +-1e-12 growing by 10% up to 1e20, zero in the middle."""
    pos, v = [], 1e-12
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    pos = np.array(pos)
    big = np.finfo(np.float64).max
    return np.concatenate([[-big], -pos[::-1], [0.0], pos, [big]])


_TF_EDGES = _tensorflow_edges()


def histogram(tag: str, values, bins="tensorflow", max_bins=None) -> Summary:
    """A histogram of ``values``: ``bins`` is "tensorflow" (TensorFlow's exponential buckets), an int, or any
    ``numpy.histogram`` bin rule ("auto", "fd", ...). Non-finite values are left out with a warning."""
    arr = to_numpy(values).astype(np.float64, copy=False).reshape(-1)
    finite = np.isfinite(arr)
    if not finite.all():
        warnings.warn(f"add_histogram({tag!r}): {int((~finite).sum())} NaN/Inf values left out of the histogram",
                      RuntimeWarning, stacklevel=3)
        arr = arr[finite]
    if arr.size == 0:
        raise ValueError(f"add_histogram({tag!r}): no finite values to make a histogram of")
    edges = _TF_EDGES if isinstance(bins, str) and bins == "tensorflow" else bins
    if max_bins is not None and isinstance(edges, int):
        edges = min(edges, max_bins)
    counts, limits = np.histogram(arr, bins=edges)
    nonzero = np.flatnonzero(counts)
    lo, hi = nonzero[0], nonzero[-1] + 1
    proto = HistogramProto(min=float(arr.min()), max=float(arr.max()), num=int(arr.size),
                           sum=float(arr.sum()), sum_squares=float(np.dot(arr, arr)),
                           bucket_limit=limits[lo + 1: hi + 1].tolist(), bucket=counts[lo:hi].tolist())
    return Summary(value=[Summary.Value(tag=tag, histo=proto)])


# ---------------------------------------------------------------------------------------------------- images
LAYOUTS = {2: ("HW", "WH"), 3: ("CHW", "HWC"), 4: ("NCHW", "NHWC")}


def _layout_error(fn, tag, dataformats, arr, why):
    choices = ", ".join(f for fs in LAYOUTS.values() for f in fs)
    return ValueError(
        f"{fn}({tag!r}): {why}; got shape {tuple(arr.shape)} dtype {arr.dtype} with dataformats="
        f"{dataformats!r}. Expected layouts: {choices} (C = 1, 3 or 4 channels) with uint8 values in 0..255 or "
        "float values in 0..1")


def to_hwc(fn: str, tag: str, img, dataformats: str) -> np.ndarray:
    """An image or a batch of images (any layout of ``LAYOUTS``) as uint8 H x W x C (a batch tiled in a
    grid), scaling floats from 0..1."""
    arr = to_numpy(img)
    fmt = str(dataformats).upper()
    if fmt not in LAYOUTS.get(len(fmt), ()) or len(set(fmt)) != len(fmt):
        raise _layout_error(fn, tag, dataformats, arr, f"unknown dataformats {dataformats!r}")
    if arr.ndim != len(fmt):
        raise _layout_error(fn, tag, dataformats, arr, f"a {arr.ndim}-d array does not match {fmt}")
    if not (arr.dtype == np.uint8 or arr.dtype.kind == "f" or arr.dtype == np.bool_):
        raise _layout_error(fn, tag, dataformats, arr, f"unsupported dtype {arr.dtype}")
    full = fmt if "N" in fmt else "N" + fmt
    arr = arr if "N" in fmt else arr[None]
    if "C" not in full:
        full, arr = full + "C", arr[..., None]
    arr = np.transpose(arr, [full.index(c) for c in "NHWC"])
    if arr.shape[3] not in (1, 3, 4):
        raise _layout_error(fn, tag, dataformats, to_numpy(img), f"{arr.shape[3]} channels")
    if arr.dtype != np.uint8:
        arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        arr = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    return _grid(arr)


def _grid(batch: np.ndarray) -> np.ndarray:
    """N x H x W x C tiled into ceil(sqrt(N)) columns (PyTorch's layout for add_images)."""
    n, h, w, c = batch.shape
    if n == 1:
        return batch[0]
    cols = min(n, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / cols))
    canvas = np.zeros((rows * h, cols * w, c), np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        canvas[r * h:(r + 1) * h, k * w:(k + 1) * w] = batch[i]
    return canvas


def encode_png(hwc: np.ndarray) -> bytes:
    from PIL import Image

    mode = {1: "L", 3: "RGB", 4: "RGBA"}[hwc.shape[2]]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(hwc if hwc.shape[2] > 1 else hwc[..., 0]), mode).save(buf, "PNG")
    return buf.getvalue()


def image(tag: str, hwc: np.ndarray) -> Summary:
    h, w, c = hwc.shape
    img = Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=encode_png(hwc))
    return Summary(value=[Summary.Value(tag=tag, image=img)])


def figure_to_hwc(fig) -> np.ndarray:
    """A matplotlib figure drawn by its Agg canvas, as uint8 RGBA."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


# ------------------------------------------------------------------------------------------------------ text
def text(tag: str, string: str) -> Summary:
    """Markdown text, as the text plugin reads it (a string tensor; PyTorch's "/text_summary" tag suffix)."""
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)])
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[str(string).encode("utf-8")],
                                    tensor_shape=shape)
    meta = text_metadata.create_summary_metadata(display_name="", description="")
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", tensor=tensor, metadata=meta)])


# ------------------------------------------------------------------------------------------------- PR curves
def pr_curve(tag: str, labels, predictions, num_thresholds=127, weights=None) -> Summary:
    """Precision/recall at ``num_thresholds`` thresholds in [0, 1]: the pr_curves plugin's 6 x T tensor
    (TP, FP, TN, FN, precision, recall)."""
    labels = to_numpy(labels).astype(bool).reshape(-1)
    preds = to_numpy(predictions).astype(np.float64).reshape(-1)
    if labels.shape != preds.shape:
        raise ValueError(f"add_pr_curve({tag!r}): labels have {labels.size} values but predictions {preds.size}")
    if preds.size and (preds.min() < 0 or preds.max() > 1):
        raise ValueError(f"add_pr_curve({tag!r}): predictions must lie in [0, 1] (probabilities), got "
                         f"[{preds.min():.4g}, {preds.max():.4g}]")
    w = np.broadcast_to(1.0 if weights is None else to_numpy(weights).reshape(-1), preds.shape)
    n = int(num_thresholds)
    bucket = np.floor(preds * (n - 1)).astype(np.int64)
    tp_b = np.bincount(bucket, weights=labels * w, minlength=n)
    fp_b = np.bincount(bucket, weights=(~labels) * w, minlength=n)
    tp, fp = np.cumsum(tp_b[::-1])[::-1], np.cumsum(fp_b[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    data = np.stack([tp, fp, tn, fn, precision, recall]).astype(np.float32)
    meta = pr_metadata.create_summary_metadata(display_name=tag, description="", num_thresholds=n)
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor_util.make_tensor_proto(data), metadata=meta)])


# --------------------------------------------------------------------------------------------------- hparams
def _hparams_summary(tag: str, data: hparams_data.HParamsPluginData) -> Summary:
    meta = hparams_metadata.create_summary_metadata(data)
    return Summary(value=[Summary.Value(tag=tag, metadata=meta, tensor=hparams_metadata.NULL_TENSOR)])


def hparams(hparam_dict: dict, metric_dict: dict, domain_discrete: dict | None = None):
    """The hparams plugin's experiment, session-start and session-end summaries for one run."""
    domain_discrete = domain_discrete or {}
    infos, start = [], hparams_data.SessionStartInfo()
    for name, v in hparam_dict.items():
        if v is None:
            continue
        if hasattr(v, "_data") or isinstance(v, np.generic):
            v = to_numpy(v).item()
        if isinstance(v, bool):
            start.hparams[name].bool_value, kind = v, api_pb2.DATA_TYPE_BOOL
        elif isinstance(v, (int, float)):
            start.hparams[name].number_value, kind = float(v), api_pb2.DATA_TYPE_FLOAT64
        elif isinstance(v, str):
            start.hparams[name].string_value, kind = v, api_pb2.DATA_TYPE_STRING
        else:
            raise TypeError(f"add_hparams: hparam {name!r} has type {type(v).__name__}; expected bool, int, float, "
                            "str or a 0-d tensor")
        info = api_pb2.HParamInfo(name=name, type=kind)
        if name in domain_discrete:
            info.domain_discrete.extend(domain_discrete[name])
        infos.append(info)
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)
    end = hparams_data.SessionEndInfo(status=api_pb2.STATUS_SUCCESS)
    return (_hparams_summary(hparams_metadata.EXPERIMENT_TAG, hparams_data.HParamsPluginData(experiment=experiment)),
            _hparams_summary(hparams_metadata.SESSION_START_INFO_TAG,
                             hparams_data.HParamsPluginData(session_start_info=start)),
            _hparams_summary(hparams_metadata.SESSION_END_INFO_TAG,
                             hparams_data.HParamsPluginData(session_end_info=end)))


__all__ = ["scalar", "histogram", "image", "text", "pr_curve", "hparams", "to_hwc", "figure_to_hwc",
           "SummaryMetadata"]
