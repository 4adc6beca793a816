"""Computer-vision helpers: ``datasets`` (MNIST, FashionMNIST, CIFAR10) and ``transforms``.

>>> from ember.vision import datasets, transforms
>>> callable(transforms.ToTensor())
True
"""
from . import datasets, transforms

__all__ = ["datasets", "transforms"]
