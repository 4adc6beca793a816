"""``ember.keras.ops`` NumPy-style ops against real Keras 3 (torch backend): one row per op and argument set,
values to tolerance, and for differentiable ops the gradient of a weighted sum of the outputs."""
import numpy as np
import pytest
from _kops_compare import Bo, Fl, In, Pos, Row, ids, run_row

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

U = Fl(3, 4, lo=-0.9, hi=0.9)  # inside (-1, 1): arcsin, arctanh ...
A, B = Fl(3, 4), Fl(3, 4)

UNARY_GRAD = ["arccos", "arcsin", "arctan", "arcsinh", "arctanh", "cosh", "sinh", "tan", "tanh", "sin", "cos", "exp",
              "exp2", "expm1", "log1p", "deg2rad", "rad2deg", "sinc", "square", "negative", "abs", "fabs", "absolute",
              "cbrt", "sign", "trunc", "floor", "ceil", "round", "real", "conj", "conjugate", "erf", "erfc", "rsqrt",
              "erfinv", "i0"]
POSITIVE = {"log", "log2", "log10", "sqrt", "reciprocal", "rsqrt", "arccosh"}

ROWS = [Row(n, [U if n not in ("cosh", "sinh", "exp", "exp2", "i0") else Fl(3, 4)], grad=n not in (
    "sign", "trunc", "floor", "ceil", "round")) for n in UNARY_GRAD if n not in POSITIVE]
ROWS += [Row(n, [Arg]) for n, Arg in [("log", Pos(3, 4)), ("log2", Pos(3, 4)), ("log10", Pos(3, 4)),
                                      ("sqrt", Pos(3, 4)), ("reciprocal", Pos(3, 4)), ("rsqrt", Pos(3, 4))]]
ROWS += [Row("arccosh", [Fl(3, 4, lo=1.1, hi=3.0)], grad=True), Row("log", [Pos(5)], grad=True),
         Row("imag", [A], ref=np.imag), Row("angle", [A]), Row("signbit", [A]), Row("isreal", [A]),
         Row("isfinite", [A]),
         Row("sqrt", [In(3, 4, lo=0, hi=9)]), Row("exp", [In(4, lo=0, hi=4)]), Row("sin", [In(4)])]
BINARY = ["arctan2", "hypot", "logaddexp", "logaddexp2", "fmax", "fmin", "maximum", "minimum", "add", "subtract",
          "multiply", "divide", "true_divide", "divide_no_nan"]
ROWS += [Row(n, [A, B], grad=True) for n in BINARY]
ROWS += [Row(n, [A, B]) for n in ("fmod", "mod", "floor_divide", "heaviside", "nextafter", "equal", "not_equal",
                                  "greater", "greater_equal", "less", "less_equal", "isclose")]
ROWS += [Row(n, [In(3, 4), In(3, 4, lo=1, hi=7)]) for n in ("mod", "floor_divide", "fmod", "gcd", "lcm",
                                                           "bitwise_and", "bitwise_or", "bitwise_xor",
                                                           "maximum", "add", "divide")]
ROWS += [Row(n, [In(3, 4, lo=0, hi=9), In(3, 4, lo=0, hi=3)]) for n in ("left_shift", "right_shift",
                                                                        "bitwise_left_shift", "bitwise_right_shift")]
ROWS += [Row("bitwise_not", [In(3, 4)]), Row("bitwise_invert", [In(3, 4)]), Row("ldexp", [A, In(3, 4, lo=-2, hi=3)]),
         Row("logical_xor", [Bo(3, 4), Bo(3, 4)]), Row("allclose", [A, A]), Row("power", [Pos(3, 4), A], grad=True),
         Row("divide_no_nan", [A, np.array([[0.0, 1.0, 2.0, 0.0]] * 3, "float32")], grad=True),
         Row("clip", [A, -0.5, 0.7], grad=True), Row("nan_to_num", [np.array([np.nan, np.inf, -np.inf, 1.0],
                                                                              "float32")], {"posinf": 9.0}),
         Row("isposinf", [np.array([np.inf, -np.inf, 1.0], "float32")]),
         Row("isneginf", [np.array([np.inf, -np.inf, 1.0], "float32")]),
         Row("where", [Bo(3, 4), A, B], grad=True), Row("logical_not", [Bo(4)])]

# reductions and statistics
X = Fl(3, 4, 5)
for name in ("sum", "mean", "max", "min", "amax", "amin", "prod", "std", "var", "ptp", "logsumexp"):
    ROWS += [Row(name, [X], grad=True), Row(name, [X], {"axis": 1, "keepdims": True}, grad=True),
             Row(name, [X], {"axis": (0, 2)}, grad=True)]
for name in ("argmax", "argmin", "count_nonzero", "any", "all", "argsort", "sort"):
    ROWS += [Row(name, [In(3, 5, lo=-3, hi=3)]), Row(name, [X], {"axis": 1}, ref=(
        lambda x, axis, n=name: np.count_nonzero(x, axis)) if name == "count_nonzero" else None)]
ROWS += [Row("median", [X], {"axis": 1}, grad=True), Row("median", [Fl(6)]),
         Row("quantile", [X, 0.3], {"axis": -1}, grad=True), Row("quantile", [Fl(7), np.array([0.1, 0.5, 0.9])]),
         Row("percentile", [Fl(3, 6), 40.0], {"axis": 1, "keepdims": True}),
         Row("quantile", [Fl(9), 0.25], {"method": "nearest"}), Row("quantile", [Fl(9), 0.3], {"method": "midpoint"}),
         Row("quantile", [Fl(9), 0.3], {"method": "lower"}), Row("quantile", [Fl(9), 0.3], {"method": "higher"}),
         Row("average", [X], {"axis": 1, "weights": np.array([1.0, 2.0, 0.5, 1.0], "float32")}, ref=np.average),
         Row("average", [Fl(3, 4)], {"axis": 1, "weights": np.linspace(0.5, 1.0, 12, dtype="float32").reshape(3, 4)},
             grad=True),
         Row("cumsum", [X], {"axis": 1}, grad=True), Row("cumprod", [X], {"axis": 2}, grad=True),
         Row("cumsum", [In(3, 4)]), Row("cumprod", [Fl(2, 3)]), Row("diff", [X], {"n": 2, "axis": 1}, grad=True),
         Row("trapezoid", [Fl(4, 6)], grad=True), Row("trapezoid", [Fl(6), Fl(6)], {"dx": 2.0}),
         Row("corrcoef", [Fl(3, 8)], grad=True), Row("sort", [X], {"axis": 0}, grad=True),
         Row("trace", [Fl(4, 4)], grad=True), Row("trace", [X], {"offset": 1, "axis1": 1, "axis2": 2})]
NAN = np.array([[1.0, np.nan, 3.0, -2.0], [np.nan, 5.0, 0.5, 2.0]], "float32")
for name in ("nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanstd", "nanvar", "nanargmax", "nanargmin",
             "nanmedian"):
    ROWS += [Row(name, [NAN], {"axis": 1}), Row(name, [NAN])]
ROWS += [Row("nancumsum", [NAN], {"axis": 1}), Row("nancumprod", [NAN], {"axis": 1}),
         Row("nanquantile", [NAN, 0.4], {"axis": 1}), Row("nanpercentile", [NAN, 75.0], {"axis": 1})]

# products
ROWS += [Row("tensordot", [Fl(2, 3, 4), Fl(3, 4, 5)], grad=True),
         Row("tensordot", [Fl(2, 3, 4), Fl(4, 2)], {"axes": [[2, 0], [0, 1]]}, grad=True),
         Row("tensordot", [Fl(3, 4), Fl(4, 5)], {"axes": 1}), Row("einsum", ["bij,bjk->bik", Fl(2, 3, 4), Fl(2, 4, 5)]),
         Row("inner", [Fl(3, 4), Fl(5, 4)], grad=True), Row("outer", [Fl(3), Fl(4)], grad=True),
         Row("vdot", [Fl(6), Fl(6)], grad=True), Row("kron", [Fl(2, 3), Fl(3, 2)], grad=True),
         Row("cross", [Fl(4, 3), Fl(4, 3)], grad=True),
         Row("cross", [Fl(4, 2), Fl(4, 2)], ref=lambda a, b: a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]),
         Row("dot", [Fl(2, 3, 4), Fl(5, 4, 2)], ref=np.dot),
         Row("dot", [Fl(3, 4), Fl(4)], grad=True), Row("matmul", [Fl(2, 3, 4), Fl(4, 5)], grad=True),
         Row("correlate", [Fl(7), Fl(3)], {"mode": "valid"}, grad=True), Row("correlate", [Fl(7), Fl(3)],
                                                                            {"mode": "full"}),
         Row("correlate", [Fl(7), Fl(4)], {"mode": "same"}), Row("slogdet", [Fl(3, 3)], grad=True)]

# creation, shapes, joining, indexing
ROWS += [Row("linspace", [0.0, 1.0, 5]), Row("linspace", [Fl(3), Fl(3), 4], {"axis": 1}, ref=np.linspace),
         Row("linspace", [0.0, 1.0, 4], {"endpoint": False}), Row("logspace", [0.0, 2.0, 5]),
         Row("geomspace", [1.0, 100.0, 5]), Row("tri", [3, 4], {"k": 1}), Row("identity", [3]),
         Row("eye", [3, 4], {"k": -1}), Row("full_like", [A, 2.5]), Row("full", [(2, 3), True]),
         Row("arange", [1, 10, 2]), Row("arange", [0.0, 1.0, 0.25]), Row("full", [(2, 3), 7]),
         Row("bartlett", [6]), Row("blackman", [6]), Row("hamming", [6]), Row("hanning", [6]), Row("kaiser", [6, 2.0]),
         Row("tril", [Fl(4, 4)], {"k": -1}, grad=True), Row("triu", [Fl(3, 4)], grad=True),
         Row("diag", [Fl(4)], {"k": 1}, grad=True), Row("diag", [Fl(4, 4)], {"k": -1}), Row("diagflat", [Fl(2, 2)]),
         Row("diagonal", [X], {"offset": 1, "axis1": 2, "axis2": 0}, grad=True), Row("vander", [Fl(4)]),
         Row("moveaxis", [X, 0, -1], grad=True), Row("moveaxis", [X, [0, 1], [2, 0]]),
         Row("swapaxes", [X, 0, 2], grad=True), Row("ravel", [X]), Row("roll", [X, 2], {"axis": 1}, grad=True),
         Row("roll", [X, -3]), Row("rot90", [Fl(3, 4)], grad=True), Row("rot90", [X], {"k": 3, "axes": (1, 2)}),
         Row("fliplr", [Fl(3, 4)]), Row("flipud", [Fl(3, 4)]), Row("flip", [X], {"axis": (0, 2)}),
         Row("broadcast_to", [Fl(1, 4), (3, 4)], grad=True), Row("expand_dims", [X, (0, 2)]),
         Row("squeeze", [Fl(3, 1, 4, 1)], {"axis": 1}), Row("repeat", [Fl(3, 2), 2], {"axis": 0}),
         Row("tile", [Fl(2, 3), (2, 1)], grad=True), Row("append", [Fl(2, 3), Fl(1, 3)], {"axis": 0}),
         Row("append", [Fl(2, 3), Fl(4)]), Row("hstack", [[Fl(2, 3), Fl(2, 2)]]), Row("vstack", [[Fl(3), Fl(2, 3)]]),
         Row("dstack", [[Fl(2, 3), Fl(2, 3)]]), Row("array_split", [Fl(7, 2), 3]), Row("hsplit", [Fl(2, 6), 3]),
         Row("vsplit", [Fl(4, 2), 2]), Row("dsplit", [Fl(2, 2, 4), [1, 3]]), Row("split", [Fl(6, 2), [2, 5]]),
         Row("meshgrid", [Fl(3), Fl(4)]), Row("meshgrid", [Fl(3), Fl(4), Fl(2)], {"indexing": "ij"}),
         Row("take", [X, np.array([[0, 2], [1, -1]])], {"axis": 1}, grad=True),
         Row("take_along_axis", [Fl(3, 4), np.array([[0, 3], [1, 1], [2, 0]])], {"axis": 1}, grad=True),
         Row("get_item", [X, 1]), Row("select", [[Bo(3, 4), Bo(3, 4)], [A, B]], {"default": -1.0}),
         Row("pad", [Fl(3, 4), [[1, 2], [0, 1]]], {"mode": "reflect"}, grad=True),
         Row("pad", [Fl(3, 4), [[1, 2], [2, 1]]], {"mode": "symmetric"}, ref=np.pad),
         Row("pad", [Fl(3, 4), [[1, 1], [2, 2]]], {"mode": "constant", "constant_values": 3.0}),
         Row("pad", [Fl(3, 4), [[1, 0], [0, 2]]], {"mode": "edge"}, ref=np.pad),
         Row("pad", [Fl(3, 4), [[1, 0], [0, 2]]], {"mode": "wrap"}, ref=np.pad),
         Row("nonzero", [In(3, 4, lo=-1, hi=2)], ref=np.nonzero), Row("unravel_index", [np.array([1, 5, 11]), (3, 4)]),
         Row("bincount", [In(9, lo=0, hi=5)]), Row("bincount", [In(9, lo=0, hi=5)],
                                                   {"weights": np.linspace(0, 1, 9).astype("float32"), "minlength": 7}),
         Row("digitize", [Fl(8), np.array([-1.0, 0.0, 1.0], "float32")]),
         Row("searchsorted", [np.array([0.0, 1.0, 2.0, 3.0], "float32"), Fl(5)], {"side": "right"}),
         Row("isin", [In(3, 4), np.array([0, 2, 4])]), Row("histogram", [Fl(20)], {"bins": 4}),
         Row("unique", [np.array([3, 1, 3, 2, 1])], {"return_counts": True, "return_inverse": True}),
         Row("copy", [A]), Row("array", [A]), Row("ndim", [X]), Row("size", [X]), Row("view", [A, "int32"])]


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_numpy_op_matches_keras(row):
    run_row(row)
