"""Image datasets with torchvision's constructor signature ``(root, train=True, transform=None,
target_transform=None, download=False)``; images are uint8 NumPy arrays (no PIL needed).

``mnist_arrays``/``fashion_mnist_arrays``/``cifar10_arrays`` return the raw ``(images, labels)`` arrays,
e.g. for ``keras.datasets``.
"""
from ._base import ImageArrayDataset
from .cifar import CIFAR10, cifar10_arrays
from .mnist import MNIST, FashionMNIST, fashion_mnist_arrays, mnist_arrays, read_idx

__all__ = ["CIFAR10", "MNIST", "FashionMNIST", "ImageArrayDataset", "cifar10_arrays", "fashion_mnist_arrays",
           "mnist_arrays", "read_idx"]
