"""``ember.keras.ops`` nn / image / linalg / math / core ops against real Keras 3 (torch backend): one row per op
and argument set, values to tolerance, and for differentiable ops the gradient of a weighted sum of outputs."""
import numpy as np
import pytest
from _kops_compare import Fl, In, Pos, Row, ids, real, run_row, torch

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

A = Fl(3, 5)


def _sparsemax(x, axis=-1):
    """NumPy sparsemax (Keras's torch backend returns zero columns for some inputs)."""
    z = np.moveaxis(x, axis, -1)
    srt = -np.sort(-z, -1)
    k = np.arange(1, z.shape[-1] + 1)
    cum = np.cumsum(srt, -1)
    support = 1 + k * srt > cum
    k_z = support.sum(-1, keepdims=True)
    tau = (np.take_along_axis(cum, k_z - 1, -1) - 1) / k_z
    return np.moveaxis(np.maximum(z - tau, 0), -1, axis)
ACTIVATIONS = ["relu", "relu6", "sigmoid", "softplus", "softsign", "silu", "swish", "log_sigmoid", "leaky_relu",
               "hard_sigmoid", "hard_silu", "hard_swish", "elu", "selu", "celu", "gelu", "glu", "hard_tanh",
               "hard_shrink", "soft_shrink", "tanh_shrink", "squareplus", "sparse_plus", "sparse_sigmoid",
               "sparsemax", "softmax", "log_softmax"]
ROWS = [Row("nn." + n, [Fl(3, 6, lo=-3, hi=3)], grad=True) for n in ACTIVATIONS if n != "sparsemax"]
ROWS += [Row("nn.gelu", [A], {"approximate": False}, grad=True), Row("nn.elu", [A], {"alpha": 0.5}, grad=True),
         Row("nn.leaky_relu", [A], {"negative_slope": 0.1}, grad=True), Row("nn.celu", [A], {"alpha": 2.0}),
         Row("nn.threshold", [A, 0.3, -1.0], grad=True), Row("nn.softmax", [Fl(2, 3, 4)], {"axis": (1, 2)}, grad=True),
         Row("nn.log_softmax", [Fl(2, 3, 4)], {"axis": 0}),
         Row("nn.sparsemax", [Fl(3, 6, lo=-3, hi=3)], ref=_sparsemax),
         Row("nn.sparsemax", [Fl(4, 3)], {"axis": 0}, ref=_sparsemax),
         Row("nn.glu", [Fl(2, 4, 3)], {"axis": 1}, grad=True), Row("nn.squareplus", [A], {"b": 1.0})]

# normalization, encodings, attention, losses
X4 = Fl(2, 5, 4, 3)
ROWS += [Row("nn.moments", [X4, [0, 1, 2]], grad=True), Row("nn.moments", [X4, [1]], {"keepdims": True}),
         Row("nn.batch_normalization", [X4, Fl(3), Pos(3)], {"axis": -1, "offset": Fl(3), "scale": Fl(3)}, grad=True),
         Row("nn.batch_normalization", [Fl(2, 3, 4), Fl(3), Pos(3), 1], grad=True),
         Row("nn.layer_normalization", [Fl(4, 6)], {"gamma": np.linspace(0.5, 1.5, 6, dtype="float32")}, grad=True),
         Row("nn.layer_normalization", [X4], {"epsilon": 1e-3}),
         Row("nn.rms_normalization", [Fl(4, 6)], {"scale": np.linspace(0.5, 1.5, 6, dtype="float32")}, grad=True),
         Row("nn.normalize", [Fl(4, 6)], grad=True), Row("nn.normalize", [Fl(4, 6)], {"axis": 0, "order": 1}),
         Row("nn.one_hot", [In(5, lo=0, hi=4), 4]), Row("nn.one_hot", [In(2, 3, lo=0, hi=4), 4], {"axis": 0}),
         Row("nn.multi_hot", [In(3, 4, lo=0, hi=6)], {"num_classes": 6}),
         Row("nn.dot_product_attention", [Fl(2, 5, 2, 4), Fl(2, 6, 2, 4), Fl(2, 6, 2, 4)], grad=True),
         Row("nn.dot_product_attention", [Fl(2, 5, 4, 4), Fl(2, 5, 2, 4), Fl(2, 5, 2, 4)], {"is_causal": True},
             grad=True),
         Row("nn.dot_product_attention", [Fl(1, 3, 1, 2), Fl(1, 4, 1, 2), Fl(1, 4, 1, 2)],
             {"mask": np.array([[[[1, 1, 0, 1], [1, 0, 0, 0], [1, 1, 1, 1]]]], bool), "scale": 0.3}),
         Row("nn.binary_crossentropy", [Fl(4, 3, lo=0, hi=1), Fl(4, 3, lo=0.05, hi=0.95)]),
         Row("nn.categorical_crossentropy", [np.eye(3, dtype="float32")[[0, 2, 1, 1]], Fl(4, 3)],
             {"from_logits": True}),
         Row("nn.sparse_categorical_crossentropy", [np.array([0, 2, 1, 1]), Fl(4, 3)], {"from_logits": True}),
         Row("nn.psnr", [Fl(2, 4, 4, 1, lo=0, hi=1), Fl(2, 4, 4, 1, lo=0, hi=1), 1.0]),
         Row("nn.ctc_loss", [np.array([[1, 2, 2], [3, 1, 0]]), Fl(2, 8, 5), np.array([3, 2]), np.array([8, 6])],
             grad=True, atol=1e-4),
         Row("nn.ctc_decode", [Fl(2, 7, 4), np.array([7, 5])])]

# convolutions and pooling (channels_last unless said)
ROWS += [Row("nn.conv", [Fl(2, 7, 6, 3), Fl(3, 3, 3, 4)], grad=True),
         Row("nn.conv", [Fl(2, 7, 6, 3), Fl(3, 2, 3, 4)], {"strides": 2, "padding": "same"}, grad=True),
         Row("nn.conv", [Fl(2, 9, 3), Fl(3, 3, 2)], {"dilation_rate": 2, "padding": "same"}),
         Row("nn.conv", [Fl(2, 7, 6, 4), Fl(3, 3, 2, 6)], id="nn.conv-groups2"),
         Row("nn.conv", [Fl(1, 5, 5, 4, 2), Fl(2, 3, 2, 2, 3)], {"padding": "same"}),
         Row("nn.conv", [Fl(2, 3, 7, 6), Fl(3, 3, 3, 4)], {"data_format": "channels_first"}),
         Row("nn.depthwise_conv", [Fl(2, 7, 6, 3), Fl(3, 3, 3, 2)], {"padding": "same"}, grad=True),
         Row("nn.depthwise_conv", [Fl(2, 9, 3), Fl(3, 3, 1)], {"strides": 2}),
         Row("nn.separable_conv", [Fl(2, 7, 6, 3), Fl(3, 3, 3, 2), Fl(1, 1, 6, 5)], {"padding": "same"}, grad=True),
         Row("nn.conv_transpose", [Fl(2, 4, 5, 3), Fl(3, 3, 2, 3)], {"strides": 2}, grad=True),
         Row("nn.conv_transpose", [Fl(2, 4, 5, 3), Fl(3, 3, 2, 3)], {"strides": 2, "padding": "same"}, grad=True),
         Row("nn.conv_transpose", [Fl(2, 4, 5, 3), Fl(2, 2, 2, 3)], {"strides": 2, "padding": "same"}),
         Row("nn.conv_transpose", [Fl(2, 4, 5, 3), Fl(3, 3, 2, 3)], {"strides": 2, "output_padding": 1}),
         Row("nn.conv_transpose", [Fl(2, 6, 3), Fl(3, 2, 3)], {"strides": 3, "padding": "same"}),
         Row("nn.max_pool", [Fl(2, 7, 6, 3), 2], grad=True),
         Row("nn.max_pool", [Fl(2, 7, 7, 3), 3], {"strides": 2, "padding": "same"}, grad=True),
         Row("nn.max_pool", [Fl(2, 9, 3), 3], {"strides": 1, "padding": "same"}),
         Row("nn.average_pool", [Fl(2, 7, 6, 3), (2, 3)], grad=True),
         Row("nn.average_pool", [Fl(2, 9, 9, 3), 3], {"strides": 2, "padding": "same"}, grad=True),
         Row("nn.average_pool", [Fl(2, 3, 8, 6), 2], {"data_format": "channels_first"}),
         Row("nn.adaptive_average_pool", [Fl(2, 7, 6, 3), (3, 2)], grad=True),
         Row("nn.adaptive_max_pool", [Fl(2, 7, 6, 3), (3, 4)]), Row("nn.adaptive_average_pool", [Fl(2, 9, 3), 4]),
         Row("nn.depth_to_space", [Fl(2, 3, 4, 8), 2], grad=True), Row("nn.space_to_depth", [Fl(2, 4, 6, 3), 2]),
         Row("nn.depth_to_space", [Fl(2, 8, 3, 4), 2], {"data_format": "channels_first"}),
         Row("nn.unfold", [Fl(2, 3, 6, 5), 3], {"stride": 2, "padding": 1}, grad=True),
         Row("nn.fold", [Fl(2, 12, 9), (4, 4), 2], grad=True)]

def _lanczos_ref(images, size):
    """Keras's torch backend refuses lanczos in resize; its scale_and_translate computes the same resampling."""
    h, w = images.shape[1:3]
    out = real.ops.image.scale_and_translate(torch.tensor(images), (images.shape[0],) + tuple(size) + images.shape[3:],
                                             np.array([size[0] / h, size[1] / w], "float32"),
                                             np.zeros(2, "float32"), (1, 2), "lanczos5", antialias=True)
    return out.numpy()


# image ops
IMG = Fl(2, 8, 6, 3, lo=0.0, hi=1.0)
for interp in ("bilinear", "nearest", "bicubic"):
    for size in ((4, 3), (11, 9), (5, 7)):
        ROWS.append(Row("image.resize", [IMG, size], {"interpolation": interp}, grad=interp != "nearest",
                        atol=1e-4))
    ROWS.append(Row("image.resize", [IMG, (3, 4)], {"interpolation": interp, "antialias": True}, atol=1e-4,
                    grad=interp != "nearest"))
ROWS += [Row("image.resize", [IMG, (4, 4)], {"crop_to_aspect_ratio": True}, atol=1e-4),
         Row("image.resize", [IMG, (5, 5)], {"pad_to_aspect_ratio": True, "fill_value": 0.5}, atol=1e-4),
         Row("image.resize", [Fl(3, 8, 6, lo=0, hi=1), (4, 4)], {"data_format": "channels_first"}, atol=1e-4),
         Row("image.resize", [In(5, 6, 2, lo=0, hi=255, dtype="uint8"), (3, 8)], atol=1.01),
         Row("image.extract_patches", [IMG, 2], grad=True), Row("image.extract_patches", [IMG, (3, 2)],
                                                                 {"strides": 2, "padding": "same"}),
         Row("image.extract_patches", [IMG, 3], {"strides": 1, "dilation_rate": 2}),
         Row("image.extract_patches", [Fl(3, 8, 6), 3], {"strides": 2, "data_format": "channels_first"}),
         Row("image.rgb_to_grayscale", [IMG], grad=True), Row("image.rgb_to_hsv", [IMG], grad=True),
         Row("image.hsv_to_rgb", [IMG], grad=True),
         Row("image.pad_images", [IMG, 1, 2], {"target_height": 11, "target_width": 9}, grad=True),
         Row("image.pad_images", [IMG], {"bottom_padding": 2, "right_padding": 1, "top_padding": 0,
                                         "left_padding": 3}),
         Row("image.crop_images", [IMG, 1, 2], {"target_height": 5, "target_width": 3}, grad=True),
         Row("image.crop_images", [IMG], {"bottom_cropping": 2, "right_cropping": 1, "top_cropping": 1,
                                          "left_cropping": 0}),
         Row("image.gaussian_blur", [IMG], {"data_format": "channels_last"}, grad=True),
         Row("image.gaussian_blur", [IMG], {"kernel_size": (5, 5), "sigma": (1.5, 0.7),
                                            "data_format": "channels_last"}),
         Row("image.sobel_edges", [IMG], {"data_format": "channels_last"}, grad=True)]
for fill in ("constant", "nearest", "wrap", "mirror", "reflect"):
    ROWS.append(Row("image.affine_transform", [IMG, np.array([[1.1, 0.2, -1.0, -0.1, 0.9, 0.5, 0, 0],
                                                               [0.8, 0.0, 2.0, 0.0, 1.2, -1.5, 0, 0]], "float32")],
                    {"fill_mode": fill}, grad=fill == "constant", atol=1e-4))
ROWS += [Row("image.affine_transform", [IMG, np.array([[1, 0, 1.5, 0, 1, -2.5, 0, 0]] * 2, "float32")],
             {"interpolation": "nearest", "fill_value": 0.25}),
         Row("image.perspective_transform", [IMG, np.array([[0, 0], [5, 0], [0, 7], [5, 7]], "float32"),
                                             np.array([[1, 0.5], [4.5, 0], [0, 6], [5.5, 7.5]], "float32")],
             grad=True, atol=1e-4),
         Row("image.ssim", [Fl(2, 16, 13, 3, lo=0, hi=1), Fl(2, 16, 13, 3, lo=0, hi=1)], {"filter_size": 5},
             grad=True, atol=1e-5),
         Row("image.scale_and_translate", [IMG, (2, 5, 9, 3), np.array([0.6, 1.4]), np.array([0.5, -1.0]), (1, 2),
                                           "bilinear"], grad=True, atol=1e-5),
         Row("image.scale_and_translate", [IMG, (2, 12, 4, 3), np.array([1.5, 0.7]), np.array([0.0, 0.3]), (1, 2),
                                           "lanczos3"], atol=1e-5),
         Row("image.scale_and_translate", [IMG, (2, 6, 6, 3), np.array([0.75, 1.0]), np.array([0.0, 0.0]), (1, 2),
                                           "cubic"], {"antialias": False}, atol=1e-5),
         Row("image.resize", [IMG, (5, 9)], {"interpolation": "lanczos5", "antialias": True}, atol=1e-5,
             ref=lambda im, size, **kw: _lanczos_ref(im, size)),
         Row("image.map_coordinates", [Fl(5, 6), np.array([[0.5, 2.2, 4.9, -0.7], [1.5, 0.1, 5.6, 2.0]],
                                                         "float32"), 1], grad=True),
         Row("image.map_coordinates", [Fl(5, 6), np.array([[0.5, 2.2, 4.9], [1.5, 3.1, 5.6]], "float32"), 0],
             {"fill_mode": "reflect"})]

# linalg, math, core
SPD = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]], "float32")
ROWS += [Row("linalg." + n, [SPD], grad=n not in ("lu_factor", "matrix_rank", "eigh", "eig"))
         for n in ("cholesky", "det", "inv", "eigh", "lu_factor", "matrix_rank", "pinv")]
ROWS += [Row("linalg.cholesky_inverse", [np.linalg.cholesky(SPD)]),
         Row("linalg.cholesky_inverse", [np.linalg.cholesky(SPD).T.copy()], {"upper": True})]
ROWS += [Row("linalg.solve", [SPD, Fl(3, 2)], grad=True), Row("linalg.solve_triangular", [np.tril(SPD), Fl(3, 2)],
                                                              {"lower": True}, grad=True),
         Row("linalg.qr", [Fl(4, 3)], atol=1e-4), Row("linalg.svd", [Fl(4, 3)], {"compute_uv": False}, grad=True),
         Row("linalg.lstsq", [Fl(5, 3), Fl(5, 2)], atol=1e-4), Row("linalg.norm", [Fl(3, 4)], grad=True),
         Row("linalg.norm", [Fl(3, 4)], {"ord": 1, "axis": 1}), Row("linalg.norm", [Fl(3, 4)], {"ord": "fro",
                                                                                             "axis": (0, 1)}),
         Row("linalg.norm", [Fl(3, 4)], {"ord": np.inf, "axis": -1, "keepdims": True}),
         Row("segment_sum", [Fl(6, 2), np.array([0, 0, 1, 2, 2, 2])], {"num_segments": 4}, grad=True),
         Row("segment_max", [Fl(6, 2), np.array([0, 0, 1, 2, 2, 2])], grad=True),
         Row("top_k", [Fl(3, 6), 2], grad=True), Row("in_top_k", [np.array([1, 0, 3]), Fl(3, 5), 2]),
         Row("logsumexp", [Fl(3, 4)], {"axis": 1}), Row("erfinv", [Fl(5, lo=-0.95, hi=0.95)], grad=True, atol=1e-4),
         Row("rfft", [Fl(2, 8)], grad=True, atol=1e-4), Row("rfft", [Fl(7)], {"fft_length": 10}, atol=1e-4),
         Row("irfft", [(np.linspace(0, 1, 5, dtype="float32"), np.linspace(1, 0, 5, dtype="float32"))], atol=1e-4),
         Row("fft", [(np.arange(6, dtype="float32"), np.ones(6, "float32"))], atol=1e-4),
         Row("fft2", [(np.linspace(0, 1, 12, dtype="float32").reshape(3, 4), np.zeros((3, 4), "float32"))],
             atol=1e-4),
         Row("ifft2", [(np.linspace(0, 1, 12, dtype="float32").reshape(3, 4), np.ones((3, 4), "float32"))],
             atol=1e-4),
         Row("stft", [Fl(2, 40), 16, 8, 16], atol=1e-4, grad=True), Row("stft", [Fl(40), 10, 5, 16], {"center": False},
                                                                         atol=1e-4),
         Row("extract_sequences", [Fl(2, 10), 4, 3]), Row("cdist", [Fl(3, 2), Fl(4, 2)], grad=True),
         Row("slice", [Fl(4, 5), (1, 2), (2, 3)], grad=True), Row("slice_update", [Fl(4, 5), (1, 2), Fl(2, 3)],
                                                                   grad=True),
         Row("scatter", [np.array([[0, 1], [2, 2], [0, 1]]), Fl(3), (3, 4)]),
         Row("scatter_update", [Fl(3, 4), np.array([[0, 1], [2, 2]]), Fl(2)], grad=True),
         Row("saturate_cast", [Fl(6, lo=-300, hi=300), "uint8"]), Row("saturate_cast", [Fl(6, lo=-300, hi=300),
                                                                                        "int8"]),
         Row("unstack", [Fl(3, 2)], {"axis": 1}), Row("rearrange", [Fl(2, 3, 4), "b h w -> b (w h)"], grad=True),
         Row("rearrange", [Fl(2, 6), "b (h w) -> w b h"], {"h": 2})]


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_op_matches_keras(row):
    run_row(row)
