"""MNIST digits: ``(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()``; uint8 images
of shape (N, 28, 28) and uint8 labels."""

from ember.vision.datasets import mnist_arrays

from ._idx import load


def load_data(path=None):
    return load("mnist", mnist_arrays, path)
