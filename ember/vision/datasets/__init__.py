"""Image datasets with torchvision's constructor signature ``(root, train=True, transform=None,
target_transform=None, download=False)``; the in-memory ones give uint8 NumPy images (no PIL needed),
``ImageFolder`` gives PIL images decoded from files (Pillow: ``ember[vision]``).

``mnist_arrays``/``fashion_mnist_arrays``/``cifar10_arrays`` return the raw ``(images, labels)`` arrays,
e.g. for ``keras.datasets``.
"""
from ._base import ImageArrayDataset
from .cifar import CIFAR10, cifar10_arrays
from .folder import IMG_EXTENSIONS, DatasetFolder, FakeData, ImageFolder, default_loader
from .mnist import MNIST, FashionMNIST, fashion_mnist_arrays, mnist_arrays, read_idx

__all__ = ["CIFAR10", "MNIST", "FashionMNIST", "ImageArrayDataset", "cifar10_arrays", "fashion_mnist_arrays",
           "mnist_arrays", "read_idx", "DatasetFolder", "ImageFolder", "FakeData", "IMG_EXTENSIONS",
           "default_loader"]
