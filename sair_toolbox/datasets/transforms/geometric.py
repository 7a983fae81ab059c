"""Geometric transforms that keep image, label map and mask aligned.

They act on ``results['img']`` (uint8 ``(H, W, 3)``, resampled with the chosen interpolation) and,
when present, ``results['gt_seg_map']`` (int64 ``(H, W)``) and ``results['mask']`` (float32
``(H, W)``), both with nearest neighbour so labels stay labels and masks stay binary. They update
``img_shape``. Sizes are ``(h, w)`` (an int means a square). Randomness comes from ``np.random``,
which the dataset routes to its private stream while the pipeline runs.

MMCV's ``Resize``/``RandomFlip``/``CenterCrop`` know ``img`` and ``gt_seg_map`` but not ``mask``,
hence these.
"""
from typing import Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image

from sair_toolbox.datasets.image_io import resize_nearest
from sair_toolbox.registry import TRANSFORMS
from sair_toolbox.utils.errors import ConfigError, DataError

#: Keys resized with nearest neighbour alongside ``img``.
NEAREST_KEYS = ('gt_seg_map', 'mask')

_PIL_INTERP = {
    'nearest': Image.NEAREST,
    'bilinear': Image.BILINEAR,
    'bicubic': Image.BICUBIC,
    'lanczos': Image.LANCZOS,
    'area': Image.BOX,
}

SizeLike = Union[int, Sequence[int]]


def _as_size(size: SizeLike, name: str) -> Tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    if len(size) != 2 or min(size) <= 0:
        raise ConfigError(f'{name}: size must be a positive int or (h, w), got {size}')
    return int(size[0]), int(size[1])


def resize_image(img: np.ndarray, size: Tuple[int, int], interpolation: str = 'bicubic'):
    """uint8 ``(H, W, 3)`` -> ``(h, w, 3)`` with PIL (antialiased when shrinking)."""
    h, w = size
    if img.shape[:2] == (h, w):
        return img
    return np.asarray(Image.fromarray(img).resize((w, h), _PIL_INTERP[interpolation]))


def _apply(results: dict, img_fn, nearest_fn) -> dict:
    results['img'] = img_fn(results['img'])
    for key in NEAREST_KEYS:
        if results.get(key) is not None:
            results[key] = nearest_fn(results[key])
    results['img_shape'] = results['img'].shape[:2]
    return results


def _check_img(results: dict, name: str) -> np.ndarray:
    if results.get('img') is None:
        raise DataError(f'{name}: results have no img (put LoadImage first)')
    return results['img']


def _crop(results: dict, top: int, left: int, h: int, w: int) -> dict:
    def crop(a):
        return np.ascontiguousarray(a[top:top + h, left:left + w])
    return _apply(results, crop, crop)


@TRANSFORMS.register_module()
class Resize(BaseTransform):
    """Resize to ``size`` (``keep_ratio=False``) or the shorter side to ``size`` (``True``).

    Args:
        size: ``(h, w)`` or int. With ``keep_ratio=True`` it must be an int (shorter side).
        keep_ratio: keep the aspect ratio.
        interpolation: for the image: ``'bicubic'`` (default), ``'bilinear'``, ``'area'``,
            ``'lanczos'`` or ``'nearest'`` (PIL, antialiased when shrinking).
    """

    def __init__(self, size: SizeLike, keep_ratio: bool = False, interpolation: str = 'bicubic'):
        if interpolation not in _PIL_INTERP:
            raise ConfigError(f'Resize: interpolation must be one of {sorted(_PIL_INTERP)}, '
                              f'got {interpolation!r}')
        if keep_ratio and not isinstance(size, int):
            raise ConfigError(f'Resize: keep_ratio=True needs an int size (shorter side), '
                              f'got {size}')
        self.size = size if keep_ratio else _as_size(size, 'Resize')
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation

    def _target(self, h: int, w: int) -> Tuple[int, int]:
        if not self.keep_ratio:
            return self.size
        s = self.size
        if h <= w:
            return s, max(1, int(round(w * s / h)))
        return max(1, int(round(h * s / w))), s

    def transform(self, results: dict) -> dict:
        h, w = _check_img(results, 'Resize').shape[:2]
        size = self._target(h, w)
        return _apply(results, lambda a: resize_image(a, size, self.interpolation),
                      lambda a: resize_nearest(a, size))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, keep_ratio={self.keep_ratio}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class CenterCrop(BaseTransform):
    """Crop the central ``size`` region; the image must be at least that large."""

    def __init__(self, size: SizeLike):
        self.size = _as_size(size, 'CenterCrop')

    def transform(self, results: dict) -> dict:
        h, w = _check_img(results, 'CenterCrop').shape[:2]
        ch, cw = self.size
        if h < ch or w < cw:
            raise DataError(f'CenterCrop: image {results.get("img_path")} is {w}x{h}, smaller '
                            f'than the crop {cw}x{ch} (resize first)')
        return _crop(results, (h - ch) // 2, (w - cw) // 2, ch, cw)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size})'


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Crop a ``size`` region at a random position; the image must be at least that large."""

    def __init__(self, size: SizeLike):
        self.size = _as_size(size, 'RandomCrop')

    def transform(self, results: dict) -> dict:
        h, w = _check_img(results, 'RandomCrop').shape[:2]
        ch, cw = self.size
        if h < ch or w < cw:
            raise DataError(f'RandomCrop: image {results.get("img_path")} is {w}x{h}, smaller '
                            f'than the crop {cw}x{ch} (resize first)')
        top = int(np.random.randint(0, h - ch + 1))
        left = int(np.random.randint(0, w - cw + 1))
        return _crop(results, top, left, ch, cw)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size})'


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """Crop a random area/aspect region and resize it to ``size`` (torchvision's algorithm).

    Args:
        size: output ``(h, w)`` or int.
        scale: range of the crop area as a fraction of the image area.
        ratio: range of the crop aspect ratio ``w / h``.
        interpolation: image interpolation (see :class:`Resize`).
    """

    def __init__(self, size: SizeLike, scale: Sequence[float] = (0.5, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3), interpolation: str = 'bicubic'):
        if interpolation not in _PIL_INTERP:
            raise ConfigError(f'RandomResizedCrop: unknown interpolation {interpolation!r}')
        if not (0 < scale[0] <= scale[1] <= 1) or not (0 < ratio[0] <= ratio[1]):
            raise ConfigError(f'RandomResizedCrop: bad scale {scale} or ratio {ratio}')
        self.size = _as_size(size, 'RandomResizedCrop')
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.interpolation = interpolation

    def _params(self, h: int, w: int) -> Tuple[int, int, int, int]:
        area = h * w
        log_ratio = np.log(self.ratio)
        for _ in range(10):
            target_area = area * np.random.uniform(*self.scale)
            aspect = float(np.exp(np.random.uniform(*log_ratio)))
            cw = int(round(np.sqrt(target_area * aspect)))
            ch = int(round(np.sqrt(target_area / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                top = int(np.random.randint(0, h - ch + 1))
                left = int(np.random.randint(0, w - cw + 1))
                return top, left, ch, cw
        # Fallback: central crop with the aspect ratio clamped into range.
        in_ratio = w / h
        if in_ratio < self.ratio[0]:
            cw, ch = w, int(round(w / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            ch, cw = h, int(round(h * self.ratio[1]))
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def transform(self, results: dict) -> dict:
        h, w = _check_img(results, 'RandomResizedCrop').shape[:2]
        top, left, ch, cw = self._params(h, w)
        results = _crop(results, top, left, ch, cw)
        return _apply(results, lambda a: resize_image(a, self.size, self.interpolation),
                      lambda a: resize_nearest(a, self.size))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, scale={self.scale}, '
                f'ratio={self.ratio}, interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Flip image, label map and mask together with probability ``prob``.

    Args:
        prob: flip probability.
        direction: ``'horizontal'`` or ``'vertical'``.
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal'):
        if direction not in ('horizontal', 'vertical'):
            raise ConfigError(f'RandomFlip: direction must be horizontal or vertical, '
                              f'got {direction!r}')
        if not 0 <= prob <= 1:
            raise ConfigError(f'RandomFlip: prob must be in [0, 1], got {prob}')
        self.prob = float(prob)
        self.direction = direction

    def transform(self, results: dict) -> dict:
        _check_img(results, 'RandomFlip')
        flip = bool(np.random.rand() < self.prob)
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        if not flip:
            return results
        axis = 1 if self.direction == 'horizontal' else 0

        def f(a):
            return np.ascontiguousarray(np.flip(a, axis=axis))
        return _apply(results, f, f)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob}, direction={self.direction!r})'
