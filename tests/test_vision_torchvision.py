"""ember.vision transforms (PIL, tensor and NumPy images), utils and folder datasets against torchvision's:
one row per function, the same inputs on both sides."""
import numpy as np
import pytest
from _torchvision import load as load_torchvision

import ember
from ember.vision import datasets, utils
from ember.vision import transforms as T
from ember.vision.transforms import functional as EF

Image = pytest.importorskip("PIL.Image")
tv = load_torchvision("transforms", "utils", "datasets")
pytestmark = pytest.mark.skipif(tv is None, reason="torchvision is not installed (pip install 'ember[test]')")

RNG = np.random.default_rng(0)
HWC = RNG.integers(0, 256, (17, 23, 3), dtype=np.uint8)
FLOAT_CHW = RNG.uniform(0, 1, (3, 9, 11)).astype(np.float32)


def tvf():
    import torchvision.transforms.functional as F

    return F


def as_np(x):
    if hasattr(x, "mode"):  # PIL
        return np.asarray(x)
    if isinstance(x, ember.Tensor):
        return x.numpy()
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


# name, ember fn, torchvision fn (each takes the image)
ROWS = [
    ("brightness", lambda F, x: F.adjust_brightness(x, 1.4)),
    ("contrast", lambda F, x: F.adjust_contrast(x, 0.6)),
    ("saturation", lambda F, x: F.adjust_saturation(x, 1.7)),
    ("hue", lambda F, x: F.adjust_hue(x, 0.2)),
    ("hue_negative", lambda F, x: F.adjust_hue(x, -0.35)),
    ("grayscale", lambda F, x: F.rgb_to_grayscale(x)),
    ("grayscale3", lambda F, x: F.rgb_to_grayscale(x, 3)),
    ("resized_crop", lambda F, x: F.resized_crop(x, 2, 3, 10, 12, [7, 5])),
    ("crop_outside", lambda F, x: F.crop(x, -2, 15, 9, 10)),
    ("center_crop", lambda F, x: F.center_crop(x, [8, 20])),
    ("center_crop_pad", lambda F, x: F.center_crop(x, [20, 25])),
    ("hflip", lambda F, x: F.hflip(x)),
    ("vflip", lambda F, x: F.vflip(x)),
    ("pad", lambda F, x: F.pad(x, [1, 2, 3, 4], fill=7)),
    ("resize_short_side", lambda F, x: F.resize(x, 11)),
]
IDS = [r[0] for r in ROWS]


@pytest.mark.parametrize("name,fn", ROWS, ids=IDS)
def test_pil_images_match_torchvision(name, fn):
    img = Image.fromarray(HWC)
    got, want = fn(EF, img), fn(tvf(), img)
    assert type(got) is type(want) and got.mode == want.mode and got.size == want.size
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("name,fn", [r for r in ROWS if r[0] != "resize_short_side"],
                         ids=[i for i in IDS if i != "resize_short_side"])
def test_tensor_images_match_torchvision(name, fn):
    import torch

    for chw in (FLOAT_CHW, np.ascontiguousarray(HWC.transpose(2, 0, 1))):
        got, want = fn(EF, ember.tensor(chw)), fn(tvf(), torch.tensor(chw))
        assert isinstance(got, ember.Tensor) and tuple(got.shape) == tuple(want.shape), name
        atol = 1 if chw.dtype == np.uint8 else 1e-5  # float32 rounding may flip a uint8 by one
        np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64), atol=atol,
                                   err_msg=f"{name} {chw.dtype}")
    # NumPy HxWxC images (Ember's in-memory datasets) follow the tensor formulas, channels last
    got = fn(EF, HWC)
    want = fn(tvf(), torch.tensor(np.ascontiguousarray(HWC.transpose(2, 0, 1)))).numpy()
    got = got if got.ndim == 3 else got[:, :, None]
    np.testing.assert_allclose(got.transpose(2, 0, 1).astype(np.float64), want.astype(np.float64), atol=1)


def test_random_resized_crop_sampling():
    ember.manual_seed(0)
    img = Image.fromarray(HWC)
    for _ in range(200):
        top, left, h, w = T.RandomResizedCrop.get_params(img, (0.2, 0.9), (0.5, 2.0))
        assert 0 <= top <= 17 - h and 0 <= left <= 23 - w
    # no crop fits the scale: both fall back to the same centre crop
    got = T.RandomResizedCrop.get_params(img, (5.0, 6.0), (3 / 4, 4 / 3))
    want = tv.transforms.RandomResizedCrop.get_params(img, [5.0, 6.0], [3 / 4, 4 / 3])
    assert got == tuple(want)
    out = T.RandomResizedCrop(8, antialias=True)(img)
    assert out.size == (8, 8)


def test_color_jitter_and_pipelines():
    ember.manual_seed(0)
    jitter = T.ColorJitter(brightness=0.4, contrast=(0.5, 1.5), saturation=0.3, hue=0.1)
    assert jitter.brightness == (0.6, 1.4) and jitter.hue == (-0.1, 0.1)
    order, b, c, s, h = jitter.get_params(jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue)
    assert sorted(order.tolist()) == [0, 1, 2, 3] and 0.6 <= b <= 1.4 and -0.1 <= h <= 0.1
    pipeline = T.Compose([T.RandomResizedCrop(12), T.RandomHorizontalFlip(), jitter, T.ToTensor(),
                          T.Normalize((0.5,) * 3, (0.5,) * 3)])
    for img in (Image.fromarray(HWC), HWC):
        x = pipeline(img)
        assert x.shape == (3, 12, 12) and x.dtype == ember.float32 and -1.0 <= float(x.min()) <= float(x.max()) <= 1.0
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="non-negative"):
        T.ColorJitter(brightness=-1)


def test_to_tensor_pil_modes_and_v2():
    import torch

    from ember.vision.transforms import v2

    for mode_img in (Image.fromarray(HWC), Image.fromarray(HWC[:, :, 0]), Image.fromarray(HWC).convert("RGBA"),
                     Image.fromarray(HWC[:, :, 0] > 128)):
        np.testing.assert_allclose(T.ToTensor()(mode_img).numpy(), tv.transforms.ToTensor()(mode_img).numpy(),
                                   rtol=1e-6)  # x * (1/255) here, x / 255 there
        np.testing.assert_array_equal(T.PILToTensor()(mode_img).numpy(), tv.transforms.PILToTensor()(mode_img).numpy())
    pic = EF.to_pil_image(ember.tensor(FLOAT_CHW))
    np.testing.assert_array_equal(np.asarray(pic), np.asarray(tvf().to_pil_image(torch.tensor(FLOAT_CHW))))
    ours = v2.Compose([v2.ToImage(), v2.ToDtype(ember.float32, scale=True)])(Image.fromarray(HWC))
    import torchvision.transforms.v2 as tv2

    theirs = tv2.Compose([tv2.ToImage(), tv2.ToDtype(torch.float32, scale=True)])(Image.fromarray(HWC))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


GRIDS = [
    ("default", lambda L: L.rand(10, 3, 5, 6), {}),
    ("one_channel_nrow", lambda L: L.rand(7, 1, 4, 4), {"nrow": 3, "padding": 1, "pad_value": 0.5}),
    ("normalize", lambda L: L.randn(4, 3, 4, 5), {"normalize": True}),
    ("normalize_each_range", lambda L: L.randn(4, 3, 4, 5), {"normalize": True, "value_range": (-1.0, 1.0),
                                                             "scale_each": True}),
    ("single", lambda L: L.rand(1, 3, 4, 4), {}),
    ("list", lambda L: [L.rand(3, 4, 4), L.rand(3, 4, 4)], {"padding": 0}),
]


@pytest.mark.parametrize("name,make,kw", GRIDS, ids=[g[0] for g in GRIDS])
def test_make_grid_matches_torchvision(name, make, kw):
    import torch

    torch.manual_seed(0)
    theirs = make(torch)
    ours = [ember.tensor(t.numpy()) for t in theirs] if isinstance(theirs, list) else ember.tensor(theirs.numpy())
    np.testing.assert_allclose(utils.make_grid(ours, **kw).numpy(), tv.utils.make_grid(theirs, **kw).numpy(),
                               rtol=1e-6, atol=1e-7)


def test_save_image_writes_the_same_pixels(tmp_path):
    import torch

    torch.manual_seed(0)
    batch = torch.rand(6, 3, 8, 8)
    utils.save_image(ember.tensor(batch.numpy()), tmp_path / "ours.png", nrow=3)
    tv.utils.save_image(batch, tmp_path / "theirs.png", nrow=3)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "ours.png")),
                                  np.asarray(Image.open(tmp_path / "theirs.png")))
    with pytest.raises(ValueError, match="image format"):
        utils.save_image(ember.tensor(batch.numpy()), tmp_path / "noext")


def make_folder(root, classes=("cat", "dog", "emu"), per_class=3):
    for c in classes:
        (root / c / "sub").mkdir(parents=True)
        for i in range(per_class):
            where = root / c / ("sub" if i == 0 else "") / f"{i}.png"
            Image.fromarray(RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(where)
        (root / c / "notes.txt").write_text("not an image")


def test_image_folder_matches_torchvision(tmp_path):
    make_folder(tmp_path)
    ours = datasets.ImageFolder(tmp_path)
    theirs = tv.datasets.ImageFolder(str(tmp_path), loader=tv.datasets.folder.pil_loader)
    assert ours.classes == theirs.classes and ours.class_to_idx == theirs.class_to_idx
    assert ours.samples == theirs.samples and ours.targets == theirs.targets and ours.imgs == theirs.imgs
    img, label = ours[4]
    np.testing.assert_array_equal(np.asarray(img), np.asarray(theirs[4][0]))
    assert label == theirs[4][1] and img.mode == "RGB"
    loader = ember.utils.data.DataLoader(datasets.ImageFolder(tmp_path, transform=T.ToTensor()), batch_size=4)
    x, y = next(iter(loader))
    assert x.shape == (4, 3, 6, 5) and y.dtype == ember.int64
    texts = datasets.DatasetFolder(tmp_path, loader=lambda p: open(p).read(), extensions=(".txt",))
    assert len(texts) == 3 and texts[0] == ("not an image", 0)


def test_folder_mistakes(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.ImageFolder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(tmp_path)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes empty_class"):
        datasets.ImageFolder(tmp_path)
    assert len(datasets.ImageFolder(tmp_path, allow_empty=True)) == 0


def test_fake_data():
    ds = datasets.FakeData(size=6, image_size=(3, 10, 8), num_classes=4, transform=T.ToTensor())
    x, y = ds[2]
    assert x.shape == (3, 10, 8) and 0 <= y < 4
    np.testing.assert_array_equal(ds[2][0].numpy(), x.numpy())  # the same item every time
    assert len(list(ds)) == 6 and len(tv.datasets.FakeData(size=6)) == 6
    with pytest.raises(IndexError):
        ds[6]
    gray = datasets.FakeData(size=2, image_size=(1, 5, 5))[0][0]
    assert gray.shape == (5, 5) and gray.dtype == np.uint8
