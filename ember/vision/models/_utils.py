"""What the model builders share: the ``weights`` argument and the standard initialisations."""
from __future__ import annotations

from ...errors import mark, with_user_line
from ...nn import init


def check_weights(name: str, weights, kwargs) -> None:
    """Ember ships no pretrained weights: only ``weights=None`` (and the legacy ``pretrained=False``)."""
    pretrained = kwargs.pop("pretrained", False)
    kwargs.pop("progress", None)
    if weights is not None or pretrained:
        raise mark(with_user_line(ValueError(
            f"{name}: pretrained weights are not bundled or downloaded by Ember (got weights={weights!r}"
            f"{', pretrained=True' if pretrained else ''}). Build the model with weights=None and load "
            "torchvision's weights converted to safetensors: in PyTorch, safetensors.torch.save_file("
            f"torchvision.models.{name}(weights=...).state_dict(), '{name}.safetensors'); here, "
            f"model.load_state_dict(ember.load('{name}.safetensors')). The state_dict keys are the same."), 3))


def kaiming_conv_(conv) -> None:
    """Kaiming-normal (fan_out, ReLU) conv weights and zero bias: torchvision's CNN initialisation."""
    init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        init.zeros_(conv.bias)


def norm_ones_(bn) -> None:
    init.ones_(bn.weight)
    init.zeros_(bn.bias)
