"""``torchvision.models``: classification architectures with torchvision's parameter names, so its
state_dicts (converted to safetensors) load unchanged. Only ``weights=None``: Ember ships no pretrained
weights.

>>> from ember.vision import models
>>> sorted(models.resnet18().state_dict())[:2]
['bn1.bias', 'bn1.num_batches_tracked']
"""
from .alexnet import AlexNet, alexnet
from .mobilenet import MobileNetV2, mobilenet_v2
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

__all__ = ["AlexNet", "alexnet", "MobileNetV2", "mobilenet_v2", "ResNet", "BasicBlock", "Bottleneck", "resnet18",
           "resnet34", "resnet50", "resnet101", "resnet152", "VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
           "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "list_models", "get_model"]


def list_models():
    """The names of the model builders (torchvision's ``list_models``)."""
    return sorted(n for n, v in globals().items() if n.islower() and callable(v) and not n.startswith("_")
                  and n not in ("list_models", "get_model"))


def get_model(name, **config):
    if name not in list_models():
        raise ValueError(f"get_model: unknown model {name!r}; known: {', '.join(list_models())}")
    return globals()[name](**config)
