"""California housing prices (the 1990 census blocks): ``keras.datasets.california_housing.load_data(
version="large", path="california_housing.npz", test_split=0.2, seed=113)``; features (N, 8) and median house
values (N,); ``version="small"`` keeps the first 600 blocks, as Keras does. Shuffled and split as Keras's."""

from ._npz_regression import load_split

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/california_housing.npz"
SHA256 = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    if version not in ("large", "small"):
        raise ValueError(f"california_housing.load_data: version must be 'large' or 'small', got {version!r}")
    return load_split("california_housing", path, ORIGIN, SHA256, test_split, seed,
                      keep=600 if version == "small" else None)
