"""What users hand the inferencer: image and mask files, numpy arrays or PIL images.

Every check happens here, before any model is built, and every failure is one line that says what
and where (:class:`~sair_toolbox.utils.errors.DataError`): a missing, corrupt or non-image file,
an array of the wrong shape, a mask that does not match its image, an image too small to encode.
"""
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


def _is_pil(value: Any) -> bool:
    from PIL import Image
    return isinstance(value, Image.Image)


def _check_side(shape: Tuple[int, ...], name: str) -> None:
    h, w = shape[:2]
    if min(h, w) < MIN_SIDE:
        raise DataError(f'image {name} is {w}x{h} pixels; SAIR needs at least '
                        f'{MIN_SIDE}x{MIN_SIDE}')


def to_rgb(image: Any, name: Optional[str] = None) -> np.ndarray:
    """An image as uint8 (H, W, 3) RGB.

    Args:
        image: a file path, a PIL image of any mode, or an array: (H, W), (H, W, 1), (H, W, 3)
            or (H, W, 4) (alpha composited over white), uint8 in [0, 255] or float in [0, 1].
        name: how to call it in messages (default: its path or kind).

    Raises:
        DataError: unreadable file, unsupported array, or a side below :data:`MIN_SIDE`.
    """
    from sair_toolbox.datasets.image_io import load_image, pil_to_rgb_array
    name = name or describe(image, 'image')
    if isinstance(image, (str, os.PathLike)):
        rgb = load_image(image)
    elif _is_pil(image):
        rgb = pil_to_rgb_array(image, path=name)
    elif isinstance(image, np.ndarray):
        rgb = _array_to_rgb(image, name)
    else:
        raise DataError(f'image {name}: expected a file path, a PIL image or a numpy array')
    _check_side(rgb.shape, name)
    return rgb


def _array_to_rgb(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise DataError(f'image {name} has shape {arr.shape}; expected (H, W), (H, W, 3) or '
                        '(H, W, 4)')
    if arr.dtype == np.uint8:
        data = arr.astype(np.float32) / 255.0
    elif np.issubdtype(arr.dtype, np.floating) or arr.dtype == bool:
        data = np.nan_to_num(arr.astype(np.float32))
        if data.size and (data.min() < 0 or data.max() > 1):
            raise DataError(f'image {name} is a float array with values in '
                            f'[{data.min():.3g}, {data.max():.3g}]; expected [0, 1] (or uint8)')
    else:
        raise DataError(f'image {name} has dtype {arr.dtype}; expected uint8 or float in [0, 1]')
    if data.shape[2] == 4:  # composite over white, as load_image does for files
        data = data[..., :3] * data[..., 3:] + (1 - data[..., 3:])
    return np.clip(np.rint(data * 255), 0, 255).astype(np.uint8)


def to_mask(mask: Any, threshold: float = 0.5, polarity: str = 'white_is_hole',
            name: Optional[str] = None) -> np.ndarray:
    """A mask as float32 (H, W) in {0, 1}, 1 = missing.

    Args:
        mask: a file path, a PIL image, or an array (H, W) / (H, W, C): bool, uint8 in
            [0, 255] or float in [0, 1]; the grey value is the maximum over channels, as for files.
        threshold: binarisation threshold (fraction of white).
        polarity: ``'white_is_hole'`` | ``'black_is_hole'`` | ``'auto'``.
        name: how to call it in messages.
    """
    from sair_toolbox.datasets.image_io import binarize_mask, load_mask, pil_to_mask
    name = name or describe(mask, 'mask')
    if isinstance(mask, (str, os.PathLike)):
        return load_mask(mask, threshold=threshold, polarity=polarity)
    if _is_pil(mask):
        return pil_to_mask(mask, threshold, polarity, name)
    if not isinstance(mask, np.ndarray):
        raise DataError(f'mask {name}: expected a file path, a PIL image or a numpy array')
    arr = mask
    if arr.ndim == 3:
        arr = arr.max(axis=2)
    if arr.ndim != 2:
        raise DataError(f'mask {name} has shape {mask.shape}; expected (H, W) or (H, W, C)')
    if arr.dtype == bool:
        grey = arr.astype(np.float32)
    elif arr.dtype == np.uint8:
        grey = arr.astype(np.float32) / 255.0
        if grey.size and arr.max() == 1:  # a 0/1 mask stored as uint8
            grey = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.floating):
        grey = np.nan_to_num(arr.astype(np.float32))
        if grey.size and (grey.min() < 0 or grey.max() > 1):
            raise DataError(f'mask {name} is a float array with values in '
                            f'[{grey.min():.3g}, {grey.max():.3g}]; expected [0, 1]')
    else:
        raise DataError(f'mask {name} has dtype {arr.dtype}; expected bool, uint8 or float')
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
    """The output ``(H', W')``: ``size`` if given, else the input size times ``scale`` (1)."""
    if size is not None:
        if len(size) != 2 or min(int(s) for s in size) < 1:
            raise ConfigError(f'output size must be two positive integers (H, W), got {size}')
        return int(size[0]), int(size[1])
    scale = 1.0 if scale is None else float(scale)
    if not scale > 0:
        raise ConfigError(f'scale must be > 0, got {scale}')
    h, w = input_size
    return max(1, round(h * scale)), max(1, round(w * scale))


def pair_files(img: str, mask: str, out: str) -> List[Tuple[str, str, str]]:
    """(image, mask, output) path triples for one file or two folders paired by file stem.

    Args:
        img: an image file or a folder of images.
        mask: a mask file, or a folder with one mask per image (same stem, any image extension).
        out: an output file, or a folder (for folders; ``<out>/<stem>.png``).
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
        if stem not in masks:
            raise DataError(f'no mask for image {osp.join(img, name)} in {mask} '
                            f'(expected {stem}.png or another image extension)')
        triples.append((osp.join(img, name), masks[stem], osp.join(out, stem + '.png')))
    if not triples:
        raise DataError(f'no images in {img}')
    return triples
