"""Image transforms in the style of ``torchvision.transforms``.

An *image* is a NumPy array ``HxW`` or ``HxWxC`` (usually uint8, what the in-memory datasets return), an
ember tensor ``[..., H, W]`` (usually ``CxHxW`` float, what ``ToTensor`` returns) or a PIL image (what
``ImageFolder`` returns; Pillow is the ``ember[vision]`` extra). Geometric transforms accept all three and
return the same kind. Random transforms draw from Ember's global generator, so
``ember.manual_seed`` (and the per-worker seeding of DataLoader workers) makes them reproducible.

``ToTensor`` and ``Normalize`` (and a ``Compose`` of only those) also work on a whole stack of images at
once (``batch(images)``), which the datasets use to fetch DataLoader batches without a per-image loop.

>>> import numpy as np
>>> t = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
>>> x = t(np.full((28, 28), 255, dtype=np.uint8))
>>> tuple(x.shape), float(x.max())
((1, 28, 28), 1.0)
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from . import _pil

__all__ = ["Compose", "Lambda", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip", "Resize",
           "CenterCrop", "InterpolationMode", "supports_batch"]


def _ember():
    import ember

    return ember


def _rng():
    from ember.random import numpy_generator

    return numpy_generator(None)


# ------------------------------------------------------------------------------------------- helpers


def _unwrap(img):
    """``(array, kind, axis of H)`` for a NumPy image (HxW[xC]), an ember tensor ([..., H, W]) or a PIL
    image; ``kind`` (False: NumPy, True: tensor, else a PilKind) lets ``_wrap`` return the same kind."""
    ember = _ember()
    if isinstance(img, ember.Tensor):
        if img.ndim < 2:
            raise ValueError(f"expected a tensor image of shape [..., H, W], got shape {tuple(img.shape)}")
        return img.detach()._data, True, img.ndim - 2
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(f"expected a NumPy image of shape HxW or HxWxC, got shape {img.shape}")
        return img, False, 0
    if _pil.is_pil(img):
        return _pil.to_array(img), _pil.PilKind(img.mode), 0
    raise TypeError(f"expected an image as a NumPy array (HxW or HxWxC), an ember tensor ([..., H, W]) or a PIL "
                    f"image, got {type(img).__name__}")


def _wrap(array, kind):
    if kind is True:
        return _ember().Tensor._wrap(array)
    if kind is False:
        return array
    return kind.to_pil(array)


def _pair(size, name: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) in (1, 2):
        return (int(size[0]), int(size[0])) if len(size) == 1 else (int(size[0]), int(size[1]))
    raise ValueError(f"{name}: size should be an int or a sequence (h, w), got {size!r}")


def _crop(arr, hax: int, top: int, left: int, height: int, width: int):
    index = [slice(None)] * arr.ndim
    index[hax] = slice(top, top + height)
    index[hax + 1] = slice(left, left + width)
    return arr[tuple(index)]


def _pad(arr, hax: int, left: int, top: int, right: int, bottom: int, fill=0, mode: str = "constant"):
    from ember import backend

    xp = backend.xp_of(arr)
    pads = [(0, 0)] * arr.ndim
    pads[hax], pads[hax + 1] = (top, bottom), (left, right)
    if mode == "constant":
        return xp.pad(arr, pads, mode="constant", constant_values=fill)
    return xp.pad(arr, pads, mode=mode)


def _padding_ltrb(padding) -> tuple[int, int, int, int]:
    if isinstance(padding, (int, np.integer)):
        return (int(padding),) * 4
    if isinstance(padding, Sequence) and len(padding) == 2:
        return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
    if isinstance(padding, Sequence) and len(padding) == 4:
        return tuple(int(p) for p in padding)
    raise ValueError(f"padding should be an int or a sequence of 2 or 4 ints, got {padding!r}")


def supports_batch(transform) -> bool:
    """Whether ``transform.batch(images)`` may replace calling ``transform`` on each image."""
    return bool(getattr(transform, "supports_batch", False))


# ------------------------------------------------------------------------------------------- basics


class Compose:
    """Apply transforms one after another.

    >>> Compose([Lambda(lambda x: x + 1), Lambda(lambda x: x * 2)])(3)
    8
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    @property
    def supports_batch(self) -> bool:
        return all(supports_batch(t) for t in self.transforms)

    def batch(self, images):
        for t in self.transforms:
            images = t.batch(images)
        return images

    def __repr__(self):
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class Lambda:
    """Wrap a function as a transform.

    >>> Lambda(lambda x: -x)(2)
    -2
    """

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{type(self).__name__}()"


class ToTensor:
    """NumPy image ``HxW`` / ``HxWxC`` -> float tensor ``CxHxW``; uint8 values are scaled to [0, 1]
    (other dtypes keep their values), as in torchvision.

    >>> import numpy as np
    >>> x = ToTensor()(np.zeros((4, 5, 3), dtype=np.uint8))
    >>> tuple(x.shape), x.dtype
    ((3, 4, 5), ember.float32)
    """

    supports_batch = True

    def __call__(self, pic):
        if _pil.is_pil(pic):
            arr = _pil.to_array(pic)
            chw = arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)
            if arr.dtype != np.uint8:  # modes 'I', 'I;16', 'F' keep their values, as in torchvision
                return _ember().from_numpy(np.ascontiguousarray(chw.astype(np.float32)))
            return self._convert(chw)
        if not isinstance(pic, np.ndarray):
            what = "an ember tensor (it is already a tensor; drop ToTensor)" if isinstance(
                pic, _ember().Tensor) else type(pic).__name__
            raise TypeError(f"ToTensor: expected a NumPy image array (HxW or HxWxC), got {what}")
        if pic.ndim not in (2, 3):
            raise ValueError(f"ToTensor: expected an image of shape HxW or HxWxC, got shape {pic.shape}")
        return self._convert(pic[None] if pic.ndim == 2 else np.moveaxis(pic, -1, 0))

    def batch(self, images: np.ndarray):
        """``N x H x W [x C]`` -> ``N x C x H x W`` in one step."""
        if images.ndim not in (3, 4):
            raise ValueError(f"ToTensor.batch: expected images of shape NxHxW or NxHxWxC, got {images.shape}")
        return self._convert(images[:, None] if images.ndim == 3 else np.moveaxis(images, -1, 1))

    @staticmethod
    def _convert(chw: np.ndarray):
        ember = _ember()
        if chw.dtype == np.uint8:
            dtype = ember.get_default_dtype().np
            out = np.multiply(chw, dtype.type(1.0 / 255.0), dtype=dtype)
            return ember.from_numpy(out)
        return ember.from_numpy(np.ascontiguousarray(chw))

    def __repr__(self):
        return f"{type(self).__name__}()"


class Normalize:
    """``(x - mean) / std`` per channel of a float tensor ``[..., C, H, W]``.

    >>> import ember
    >>> Normalize((0.5,), (0.25,))(ember.ones(1, 2, 2)).tolist()[0][0]
    [2.0, 2.0]
    """

    supports_batch = True

    def __init__(self, mean, std, inplace: bool = False):
        self.mean, self.std, self.inplace = tuple(mean), tuple(std), inplace

    def __call__(self, tensor):
        ember = _ember()
        if not isinstance(tensor, ember.Tensor):
            raise TypeError(f"Normalize: expected an ember tensor (use ToTensor first), got "
                            f"{type(tensor).__name__}")
        if not tensor.is_floating_point():
            raise TypeError(f"Normalize: input tensor should be a float tensor, got {tensor.dtype}")
        if tensor.ndim < 3:
            raise ValueError(f"Normalize: expected a tensor image of shape [..., C, H, W], got shape "
                             f"{tuple(tensor.shape)}")
        channels = tensor.shape[-3]
        for what, vals in (("mean", self.mean), ("std", self.std)):
            if len(vals) not in (1, channels):
                raise ValueError(f"Normalize: {what} has {len(vals)} values but the image of shape "
                                 f"{tuple(tensor.shape)} has {channels} channels; give one value per channel "
                                 f"(or one for all), e.g. convert the image with .convert('RGB') / "
                                 "Grayscale() to match")
        np_dtype = tensor.dtype.np
        std = np.asarray(self.std, dtype=np_dtype)
        if np.any(std == 0):
            raise ValueError(f"Normalize: std evaluated to zero after conversion to {tensor.dtype}, "
                             "leading to division by zero")
        mean = ember.as_tensor(np.asarray(self.mean, dtype=np_dtype).reshape(-1, 1, 1), device=tensor.device)
        std = ember.as_tensor(std.reshape(-1, 1, 1), device=tensor.device)
        return (tensor - mean) / std

    def batch(self, tensors):
        return self(tensors)

    def __repr__(self):
        return f"{type(self).__name__}(mean={list(self.mean)}, std={list(self.std)})"


# ------------------------------------------------------------------------------------------- geometry


class CenterCrop:
    """Crop the centre ``size`` (int or (h, w)); images smaller than that are zero-padded first.

    >>> import numpy as np
    >>> CenterCrop(2)(np.arange(16).reshape(4, 4)).tolist()
    [[5, 6], [9, 10]]
    """

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def __call__(self, img):
        arr, is_tensor, hax = _unwrap(img)
        th, tw = self.size
        h, w = arr.shape[hax], arr.shape[hax + 1]
        if th > h or tw > w:
            ph, pw = max(th - h, 0), max(tw - w, 0)
            arr = _pad(arr, hax, pw // 2, ph // 2, (pw + 1) // 2, (ph + 1) // 2)
            h, w = arr.shape[hax], arr.shape[hax + 1]
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        return _wrap(_crop(arr, hax, top, left, th, tw), is_tensor)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


class RandomCrop:
    """Crop a random ``size`` window, after optional ``padding`` ((left, top, right, bottom), 2 or 1 ints)
    with ``padding_mode`` 'constant' (``fill``), 'edge', 'reflect' or 'symmetric'.

    >>> import numpy as np
    >>> RandomCrop(28, padding=4)(np.zeros((28, 28), np.uint8)).shape
    (28, 28)
    """

    _MODES = ("constant", "edge", "reflect", "symmetric")

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant"):
        self.size = _pair(size, "RandomCrop")
        self.padding = None if padding is None else _padding_ltrb(padding)
        if padding_mode not in self._MODES:
            raise ValueError(f"RandomCrop: padding_mode should be one of {self._MODES}, got {padding_mode!r}")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    @staticmethod
    def get_params(height: int, width: int, output_size) -> tuple[int, int, int, int]:
        """``(top, left, h, w)`` of a random crop of ``output_size`` from a ``height x width`` image."""
        th, tw = output_size
        if height < th or width < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the input image size "
                             f"{(height, width)}; pass padding= or pad_if_needed=True")
        if height == th and width == tw:
            return 0, 0, height, width
        rng = _rng()
        return int(rng.integers(0, height - th + 1)), int(rng.integers(0, width - tw + 1)), th, tw

    def __call__(self, img):
        arr, is_tensor, hax = _unwrap(img)
        if self.padding is not None:
            arr = _pad(arr, hax, *self.padding, fill=self.fill, mode=self.padding_mode)
        th, tw = self.size
        ph, pw = max(th - arr.shape[hax], 0), max(tw - arr.shape[hax + 1], 0)
        if self.pad_if_needed and (ph or pw):
            arr = _pad(arr, hax, pw, ph, pw, ph, fill=self.fill, mode=self.padding_mode)
        top, left, h, w = self.get_params(arr.shape[hax], arr.shape[hax + 1], self.size)
        return _wrap(_crop(arr, hax, top, left, h, w), is_tensor)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p``.

    >>> import numpy as np
    >>> RandomHorizontalFlip(p=1.0)(np.array([[1, 2, 3]])).tolist()
    [[3, 2, 1]]
    """

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, img):
        if not _rng().random() < self.p:
            return img
        arr, is_tensor, hax = _unwrap(img)
        from ember import backend

        xp = backend.xp_of(arr)
        return _wrap(xp.ascontiguousarray(xp.flip(arr, axis=hax + 1)), is_tensor)

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class InterpolationMode:
    """Names of the interpolation methods ``Resize`` supports."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"


def _resize_weights(n_in: int, n_out: int, antialias: bool) -> np.ndarray:
    """``n_out x n_in`` matrix of bilinear (triangle-filter) weights with half-pixel centres. With
    ``antialias`` and shrinking, the filter widens by the scale factor (as in PIL and torchvision)."""
    scale = n_in / n_out
    centers = (np.arange(n_out) + 0.5) * scale
    if antialias and scale > 1:
        dist = (np.arange(n_in) + 0.5)[None, :] - centers[:, None]
        weights = np.maximum(0.0, 1.0 - np.abs(dist) / scale)
    else:  # plain bilinear: the sample point is clamped into the image
        pos = np.clip(centers - 0.5, 0, n_in - 1)
        weights = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in)[None, :] - pos[:, None]))
    return weights / weights.sum(axis=1, keepdims=True)


class Resize:
    """Resize to ``size``: (h, w), or an int for the smaller edge (keeping the aspect ratio), with
    'bilinear' (antialiased when shrinking unless ``antialias=False``) or 'nearest' interpolation.

    >>> import numpy as np
    >>> Resize((14, 14))(np.zeros((28, 28), np.uint8)).shape
    (14, 14)
    """

    def __init__(self, size, interpolation: str = "bilinear", max_size: int | None = None,
                 antialias: bool | None = True):
        if isinstance(size, Sequence) and len(size) == 1:
            size = size[0]
        if not isinstance(size, (int, np.integer)) and not (isinstance(size, Sequence) and len(size) == 2):
            raise ValueError(f"Resize: size should be an int or a sequence (h, w), got {size!r}")
        interpolation = getattr(interpolation, "value", interpolation)
        if interpolation not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
            raise ValueError(f"Resize: interpolation should be 'bilinear' or 'nearest', "
                             f"got {interpolation!r}")
        self.size, self.interpolation = size, interpolation
        self.max_size, self.antialias = max_size, bool(antialias)

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        if not isinstance(self.size, (int, np.integer)):
            return int(self.size[0]), int(self.size[1])
        short, long = (h, w) if h <= w else (w, h)
        new_short, new_long = int(self.size), int(self.size * long / short)
        if self.max_size is not None and new_long > self.max_size:
            new_short, new_long = int(self.max_size * new_short / new_long), self.max_size
        return (new_short, new_long) if h <= w else (new_long, new_short)

    def __call__(self, img):
        arr, is_tensor, hax = _unwrap(img)
        h, w = arr.shape[hax], arr.shape[hax + 1]
        oh, ow = self.output_size(h, w)
        if (oh, ow) == (h, w):
            return img
        if isinstance(is_tensor, _pil.PilKind):  # PIL images are resized by PIL, as torchvision does
            Image = _pil.require_pil("Resize")
            method = Image.NEAREST if self.interpolation == InterpolationMode.NEAREST else Image.BILINEAR
            return img.resize((ow, oh), method)
        from ember import backend

        xp = backend.xp_of(arr)
        if self.interpolation == InterpolationMode.NEAREST:
            rows = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(np.int64), h - 1)
            cols = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(np.int64), w - 1)
            out = arr.take(xp.asarray(rows), axis=hax).take(xp.asarray(cols), axis=hax + 1)
            return _wrap(out, is_tensor)
        work = np.float64 if arr.dtype == np.float64 else np.float32
        wh = xp.asarray(_resize_weights(h, oh, self.antialias).astype(work))
        ww = xp.asarray(_resize_weights(w, ow, self.antialias).astype(work))
        moved = xp.moveaxis(arr.astype(work, copy=False), (hax, hax + 1), (-2, -1))
        out = xp.moveaxis(wh @ moved @ ww.T, (-2, -1), (hax, hax + 1))
        if arr.dtype.kind in "ui":
            info = np.iinfo(arr.dtype)
            out = xp.clip(xp.rint(out), info.min, info.max)
        return _wrap(xp.ascontiguousarray(out.astype(arr.dtype, copy=False)), is_tensor)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation})"



# the rest of torchvision.transforms, and its ``functional`` / ``v2`` submodules
from .transforms_more import *  # noqa: E402,F401,F403
from .transforms_more import __all__ as _more  # noqa: E402

__all__ += _more + ["functional", "v2"]
from . import transforms_functional as functional  # noqa: E402
from . import transforms_v2 as v2  # noqa: E402

sys.modules[__name__ + ".functional"] = functional  # import ember.vision.transforms.v2 works like torchvision's
sys.modules[__name__ + ".v2"] = v2
