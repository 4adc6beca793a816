"""Computer vision in torchvision's shape: ``datasets`` (MNIST, FashionMNIST, CIFAR10, ImageFolder,
DatasetFolder, FakeData), ``transforms`` (with ``functional`` and ``v2``), ``models`` (ResNet, VGG,
MobileNetV2, AlexNet) and ``utils`` (``make_grid``, ``save_image``). Image files need Pillow
(``pip install 'ember[vision]'``).

>>> from ember.vision import datasets, transforms
>>> callable(transforms.ToTensor())
True
"""
import sys

from . import datasets, models, transforms, utils

__all__ = ["datasets", "transforms", "models", "utils"]
# ``import torchvision.transforms.v2`` works on torchvision; the same path works here
sys.modules[__name__ + ".transforms.v2"] = transforms.v2
