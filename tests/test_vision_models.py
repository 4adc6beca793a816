"""ember.vision.models against torchvision's definitions: the same state_dict keys and shapes in the same
order for every builder, and the same outputs (eval and train mode) with torchvision's weights loaded."""
import numpy as np
import pytest
from _torchvision import load as load_torchvision

import ember
from ember import nn
from ember.vision import models

tv = load_torchvision("models")
pytestmark = pytest.mark.skipif(tv is None, reason="torchvision is not installed (pip install 'ember[test]')")

BUILDERS = ["resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "mobilenet_v2", "alexnet"]


@pytest.fixture
def no_init(monkeypatch):
    """Skip the random initialisations: structure tests of the 130M-parameter VGGs stay fast."""
    for name in ("normal_", "kaiming_normal_", "kaiming_uniform_", "uniform_", "zeros_", "ones_", "constant_"):
        monkeypatch.setattr(nn.init, name, lambda t, *a, **k: t)
    for cls in (nn.Linear, nn.Conv2d, nn.BatchNorm2d):
        monkeypatch.setattr(cls, "reset_parameters", lambda self: None)


@pytest.mark.parametrize("name", BUILDERS)
def test_state_dict_keys_and_shapes_match_torchvision(name, no_init):
    import torch

    with torch.device("meta"):  # torchvision's side without allocating its weights
        want = [(k, tuple(v.shape)) for k, v in getattr(tv.models, name)(weights=None).state_dict().items()]
    got = [(k, tuple(v.shape)) for k, v in getattr(models, name)(weights=None).state_dict().items()]
    assert got == want


def _copy_weights(em, tm):
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def _bottleneck_resnet(lib, **kw):  # ResNet-50's blocks, one per stage, to keep the test small
    return lib.ResNet(lib.Bottleneck, [1, 1, 1, 1], **kw)


OUTPUTS = [("resnet18", {}, 48), ("bottleneck_resnet", {"num_classes": 7}, 40),
           ("mobilenet_v2", {"width_mult": 0.5}, 32), ("alexnet", {"num_classes": 5}, 64)]


@pytest.mark.parametrize("name,kw,size", OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_outputs_match_torchvision_with_the_same_weights(name, kw, size):
    import torch

    torch.manual_seed(0)
    if name == "bottleneck_resnet":
        tm, em = _bottleneck_resnet(tv.models.resnet, **kw), _bottleneck_resnet(models.resnet, **kw)
    else:
        tm, em = getattr(tv.models, name)(weights=None, **kw), getattr(models, name)(weights=None, **kw)
    _copy_weights(em, tm)
    x = np.random.default_rng(0).normal(size=(2, 3, size, size)).astype(np.float32)
    tm.eval(), em.eval()
    with torch.no_grad():
        want = tm(torch.tensor(x)).numpy()
    np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(), want, rtol=1e-3, atol=1e-4)
    if name == "resnet18":  # train mode: batch statistics, and the running averages they update
        tm.train(), em.train()
        np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(em.bn1.running_var.numpy(), tm.bn1.running_var.numpy(), rtol=1e-4)


def test_vgg_features_match_torchvision():
    import torch

    from ember.vision.models import vgg as ember_vgg

    tm = tv.models.vgg.make_layers(tv.models.vgg.cfgs["A"], batch_norm=True)
    em = ember_vgg.make_layers(ember_vgg._CFGS["A"], batch_norm=True)
    _copy_weights(em, tm)
    tm.eval(), em.eval()
    x = np.random.default_rng(1).normal(size=(1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = tm(torch.tensor(x)).numpy()
    np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(), want, rtol=1e-3, atol=1e-4)


def test_builders_refuse_pretrained_weights_with_the_conversion_recipe():
    with pytest.raises(ValueError, match="(?s)not bundled.*safetensors.*load_state_dict"):
        models.resnet18(weights="IMAGENET1K_V1")
    with pytest.raises(ValueError, match="pretrained=True"):
        models.alexnet(pretrained=True)
    assert "resnet18" in models.list_models()
    assert models.get_model("alexnet", num_classes=3).classifier[-1].out_features == 3
    # pytorch/examples' imagenet lists architectures this way
    names = sorted(n for n in vars(models) if n.islower() and not n.startswith("__") and callable(vars(models)[n]))
    assert {"resnet18", "vgg16", "mobilenet_v2", "alexnet"} <= set(names)
