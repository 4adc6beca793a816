"""Boston housing prices: ``keras.datasets.boston_housing.load_data(path="boston_housing.npz",
test_split=0.2, seed=113)``; float64 features (N, 13) and prices (N,), shuffled with NumPy's
``RandomState(seed)`` as Keras does, so the split is the same as Keras's."""

from ._npz_regression import load_split

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    return load_split("boston_housing", path, ORIGIN, SHA256, test_split, seed)
