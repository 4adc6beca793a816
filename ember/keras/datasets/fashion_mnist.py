"""Fashion-MNIST: ``(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()``."""

from ember.vision.datasets import fashion_mnist_arrays

from ._idx import load


def load_data(path=None):
    return load("fashion_mnist", fashion_mnist_arrays, path)
