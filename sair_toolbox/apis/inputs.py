"""What users hand the inferencer: image and mask files, numpy arrays or PIL images.

Every check happens here, before any model is built, and every failure is one line that says what
and where (:class:`~sair_toolbox.utils.errors.DataError`): a missing, empty, corrupt or non-image
file, an array of the wrong shape, NaN or inf values, a float array outside [0, 1], a mask that
does not match its image, an image too small to encode; contradictory or invalid size options
are a :class:`~sair_toolbox.utils.errors.ConfigError` (:func:`output_size`).

The rules for alpha and for the grey value of masks are those of the files', applied to arrays
by :mod:`sair_toolbox.datasets.image_io` itself (:func:`~sair_toolbox.datasets.image_io.
composite_alpha`, :func:`~sair_toolbox.datasets.image_io.grey_fraction`): float images are
quantised to 8 bits first, then composited like an RGBA file.
"""
import math
import os
import os.path as osp
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from sair_toolbox.utils.errors import ConfigError, DataError

#: Smallest image side accepted. The appearance CNN works at H/4 with 3x3 reflect padding, which
#: needs at least 2 pixels there (an input of 8 after its padding to a multiple of 4).
MIN_SIDE = 8


def describe(value: Any, what: str) -> str:
    """How an input is named in messages: its path, or its kind."""
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    return f'{what} ({type(value).__module__.split(".")[0]}.{type(value).__name__})'


def _subject(what: str, name: str) -> str:
    """``'image photo.png'``, but ``'image #2 (numpy.ndarray)'`` rather than ``'image image #2
    (numpy.ndarray)'`` for inputs named by their kind."""
    return name if name.startswith((f'{what} (', f'{what} #')) else f'{what} {name}'


def _is_pil(value: Any) -> bool:
    from PIL import Image
    return isinstance(value, Image.Image)


def _check_side(shape: Tuple[int, ...], name: str) -> None:
    h, w = shape[:2]
    if min(h, w) < MIN_SIDE:
        raise DataError(f'{_subject("image", name)} is {w}x{h} pixels; SAIR needs at least '
                        f'{MIN_SIDE}x{MIN_SIDE}')


def to_rgb(image: Any, name: Optional[str] = None) -> np.ndarray:
    """An image as uint8 (H, W, 3) RGB.

    A file is read as it is shown: its EXIF orientation tag is applied (a phone photo taken
    upright comes out upright, and so does its mask if the mask file carries one).

    Args:
        image: a file path, a PIL image of any mode, or an array: (H, W), (H, W, 1), (H, W, 3)
            or (H, W, 4) (alpha composited over white, as for files), uint8 in [0, 255] or
            float in [0, 1] (finite; NaN or inf is an error, never silently zero).
        name: how to call it in messages (default: its path or kind).

    Raises:
        DataError: unreadable file, unsupported array, or a side below :data:`MIN_SIDE`.
    """
    from sair_toolbox.datasets.image_io import load_image, pil_to_rgb_array
    name = name or describe(image, 'image')
    if isinstance(image, (str, os.PathLike)):
        rgb = load_image(image, exif_transpose=True)  # a photo as it is shown
    elif _is_pil(image):
        rgb = pil_to_rgb_array(image, path=name)
    elif isinstance(image, np.ndarray):
        rgb = _array_to_rgb(image, name)
    else:
        raise DataError(f'image {name}: expected a file path, a PIL image or a numpy array')
    _check_side(rgb.shape, name)
    return rgb


def _array_to_rgb(arr: np.ndarray, name: str) -> np.ndarray:
    """An array -> uint8 (H, W, 3): floats in [0, 1] quantised to 8 bits, then alpha composited
    over white by :func:`~sair_toolbox.datasets.image_io.composite_alpha` (the files' rule)."""
    from sair_toolbox.datasets.image_io import check_finite, composite_alpha
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise DataError(f'{_subject("image", name)} has shape {arr.shape}; expected (H, W), '
                        '(H, W, 3) or (H, W, 4)')
    if arr.dtype == np.uint8:
        rgb = arr
    elif np.issubdtype(arr.dtype, np.floating) or arr.dtype == bool:
        data = arr.astype(np.float32)
        check_finite(data, 'image', name)
        if data.size and (data.min() < 0 or data.max() > 1):
            raise DataError(f'{_subject("image", name)} is a float array with values in '
                            f'[{data.min():.3g}, {data.max():.3g}]; expected [0, 1] (or uint8)')
        rgb = np.clip(np.rint(data * 255), 0, 255).astype(np.uint8)
    else:
        raise DataError(f'{_subject("image", name)} has dtype {arr.dtype}; expected uint8 or '
                        'float in [0, 1]')
    if rgb.shape[2] == 4:  # composite over white, as load_image does for files
        return composite_alpha(rgb, 'white')
    return np.ascontiguousarray(rgb)


def to_mask(mask: Any, threshold: float = 0.5, polarity: str = 'white_is_hole',
            name: Optional[str] = None) -> np.ndarray:
    """A mask as float32 (H, W) in {0, 1}, 1 = missing.

    Args:
        mask: a file path, a PIL image, or an array (H, W) / (H, W, C): bool, uint8 in
            [0, 255], uint16 in [0, 65535] or float in [0, 1] (finite); the grey value is the
            maximum over channels and the 0/1 rule applies, as for files
            (:func:`~sair_toolbox.datasets.image_io.grey_fraction`).
        threshold: binarisation threshold (fraction of white).
        polarity: ``'white_is_hole'`` | ``'black_is_hole'`` | ``'auto'``.
        name: how to call it in messages.
    """
    from sair_toolbox.datasets.image_io import (binarize_mask, check_finite, grey_fraction,
                                                load_mask, pil_to_mask)
    name = name or describe(mask, 'mask')
    if isinstance(mask, (str, os.PathLike)):
        return load_mask(mask, threshold=threshold, polarity=polarity, exif_transpose=True)
    if _is_pil(mask):
        return pil_to_mask(mask, threshold, polarity, name)
    if not isinstance(mask, np.ndarray):
        raise DataError(f'mask {name}: expected a file path, a PIL image or a numpy array')
    arr = mask
    if arr.ndim == 3:
        arr = arr.max(axis=2)
    if arr.ndim != 2:
        raise DataError(f'{_subject("mask", name)} has shape {mask.shape}; expected (H, W) or '
                        '(H, W, C)')
    if arr.dtype == bool:
        grey = arr.astype(np.float32)
    elif arr.dtype in (np.uint8, np.uint16):  # the files' rule: / bit-depth maximum, 0/1 kept
        grey = grey_fraction(arr, 255.0 if arr.dtype == np.uint8 else 65535.0)
    elif np.issubdtype(arr.dtype, np.floating):
        grey = arr.astype(np.float32)
        check_finite(grey, 'mask', name)
        if grey.size and (grey.min() < 0 or grey.max() > 1):
            raise DataError(f'{_subject("mask", name)} is a float array with values in '
                            f'[{grey.min():.3g}, {grey.max():.3g}]; expected [0, 1]')
    else:
        raise DataError(f'{_subject("mask", name)} has dtype {arr.dtype}; expected bool, uint8, '
                        'uint16 or float')
    return binarize_mask(grey, threshold, polarity, name)


def load_pair(image: Any, mask: Any, threshold: float = 0.5, polarity: str = 'white_is_hole',
              index: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Read and check one image and its mask: ((H, W, 3) uint8, (H, W) float32 {0, 1}).

    Args:
        image, mask: see :func:`to_rgb` and :func:`to_mask`.
        threshold, polarity: see :func:`to_mask`.
        index: position in a batch, used in the names of array inputs.

    Raises:
        DataError: see :func:`to_rgb`, :func:`to_mask`; a mask whose size differs from the image.
    """
    suffix = f' #{index}' if index is not None else ''
    img_name = describe(image, 'image' + suffix)
    mask_name = describe(mask, 'mask' + suffix)
    rgb = to_rgb(image, img_name)
    hole = to_mask(mask, threshold, polarity, mask_name)
    if hole.shape != rgb.shape[:2]:
        raise DataError(f'mask {mask_name} is {hole.shape[1]}x{hole.shape[0]} but image '
                        f'{img_name} is {rgb.shape[1]}x{rgb.shape[0]} (W x H)')
    return rgb, hole


def output_size(input_size: Tuple[int, int], scale: Optional[float] = None,
                size: Optional[Sequence[int]] = None) -> Tuple[int, int]:
    """The output ``(H', W')``: ``size`` if given, else the input size times ``scale`` (1).

    Raises:
        ConfigError: both ``scale`` and ``size`` given (contradictory), a size that is not two
            positive integers, or a scale that is not a finite number > 0.
    """
    if size is not None and scale is not None:
        raise ConfigError(f'give either scale or size, not both (got scale={scale} and '
                          f'size={_show(size)})')
    if size is not None:
        try:
            pair = [int(s) for s in size]
            exact = all(float(s) == int(s) for s in size)
        except (TypeError, ValueError, OverflowError):
            pair, exact = [], False
        if len(pair) != 2 or not exact or min(pair) < 1:
            raise ConfigError(f'output size must be two positive integers (H, W), got '
                              f'{_show(size)}')
        return pair[0], pair[1]
    try:
        scale = 1.0 if scale is None else float(scale)
    except (TypeError, ValueError):
        raise ConfigError(f'scale must be a number > 0, got {scale!r}') from None
    if not (math.isfinite(scale) and scale > 0):
        raise ConfigError(f'scale must be a finite number > 0, got {scale}')
    h, w = input_size
    return max(1, round(h * scale)), max(1, round(w * scale))


def _show(value: Any) -> str:
    try:
        return str(tuple(value))
    except TypeError:
        return repr(value)


def pair_files(img: str, mask: str, out: str,
               strict: bool = True) -> List[Tuple[str, Optional[str], str]]:
    """(image, mask, output) path triples for one file or two folders paired by file stem.

    Args:
        img: an image file or a folder of images.
        mask: a mask file, or a folder with one mask per image (same stem, any image extension).
        out: an output file, or a folder (for folders; ``<out>/<stem>.png``).
        strict: an image without a mask is a :class:`DataError`; with ``False`` its triple has
            mask ``None`` (a batch run reports it and goes on).
    """
    from sair_toolbox.datasets.image_io import IMAGE_EXTENSIONS
    if not osp.exists(img):
        raise DataError(f'--img {img} does not exist')
    if not osp.exists(mask):
        raise DataError(f'--mask {mask} does not exist')
    if osp.isfile(img):
        if not osp.isfile(mask):
            raise DataError(f'--img is a file, so --mask must be a file too, got folder {mask}')
        if osp.isdir(out):
            out = osp.join(out, osp.splitext(osp.basename(img))[0] + '.png')
        return [(img, mask, out)]
    if not osp.isdir(mask):
        raise DataError(f'--img is a folder, so --mask must be a folder too, got file {mask}')
    masks = {}
    for name in sorted(os.listdir(mask)):
        if name.lower().endswith(IMAGE_EXTENSIONS):
            masks.setdefault(osp.splitext(name)[0], osp.join(mask, name))
    triples = []
    for name in sorted(os.listdir(img)):
        if not name.lower().endswith(IMAGE_EXTENSIONS):
            continue
        stem = osp.splitext(name)[0]
        if stem not in masks and not strict:
            triples.append((osp.join(img, name), None, osp.join(out, stem + '.png')))
            continue
        if stem not in masks:
            raise DataError(f'no mask for image {osp.join(img, name)} in {mask} '
                            f'(expected {stem}.png or another image extension)')
        triples.append((osp.join(img, name), masks[stem], osp.join(out, stem + '.png')))
    if not triples:
        raise DataError(f'no images in {img}')
    return triples
