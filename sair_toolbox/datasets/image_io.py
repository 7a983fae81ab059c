"""Reading images, masks and label maps from disk into numpy arrays.

Every reader handles each PIL mode explicitly, so a dataset may mix 8-bit, 16-bit, palette,
grey-scale, CMYK and transparent files. A missing, truncated, corrupt or non-image file raises
:class:`~sair_toolbox.utils.errors.DataError` whose one-line message names the path.

Conventions (documented decisions):

* Images come back as ``uint8`` ``(H, W, 3)`` RGB.

  - ``RGBA``/``LA``/``PA``/palette with transparency: composited over a white background by
    default (``alpha='white'``, what an image viewer shows); ``alpha='black'`` composites over
    black, ``alpha='drop'`` ignores the alpha channel and keeps the stored colour.
  - ``L`` and ``1`` (bi-level): the grey value is replicated to three channels.
  - ``I;16*`` (16-bit grey, e.g. 16-bit PNG): scaled to 8 bits by ``>> 8`` (the high byte).
    16-bit RGB PNGs are already reduced to their high byte by PIL, so the two agree.
  - ``I`` (32-bit integer, e.g. TIFF): values in ``[0, 255]`` are taken as 8-bit; values in
    ``[0, 65535]`` as 16-bit (``>> 8``); anything else is scaled linearly from ``[min, max]``.
  - ``F`` (32-bit float): values in ``[0, 1]`` are multiplied by 255, values in ``[0, 255]`` are
    rounded, anything else is scaled from ``[min, max]``.
  - ``CMYK``, ``YCbCr``, ``LAB``, ``HSV`` and others: PIL's conversion to RGB (no ICC colour
    management).
  - The EXIF orientation tag is ignored by default (pixels in stored order, which is the order
    that label maps and masks are annotated in); pass ``exif_transpose=True`` to apply it.

* Masks come back as ``float32`` ``(H, W)`` in ``{0, 1}``, **1 = missing (hole)**. The grey value
  is the maximum over the colour channels (so red or green strokes count as white), alpha is
  ignored. It is divided by the maximum of its bit depth (255, 65535, 1 for bi-level); a file whose
  values are only 0 and 1 is read as a 0/1 mask. Then ``value > threshold`` is "white".
  Polarity: ``'white_is_hole'`` (default: the irregular masks of Liu et al. 2018 as distributed by
  NVIDIA and used by MISF/EdgeConnect store the hole as white on black), ``'black_is_hole'``
  (mirrors that store the inverse), or ``'auto'`` (the minority colour is the hole -- only correct
  if every mask covers less than half the image, which the 40-60% bin violates; avoid it for
  evaluation).

* Label maps come back as ``int64`` ``(H, W)``; palette PNGs give their indices, 255 = ignore.
"""
import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from sair_toolbox.utils.errors import DataError

#: Mask polarities understood by :func:`load_mask` and every mask source.
POLARITIES = ('white_is_hole', 'black_is_hole', 'auto')
#: How :func:`load_image` treats an alpha channel.
ALPHA_MODES = ('white', 'black', 'drop')
#: Image file extensions that datasets and mask folders pick up (lower case).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')

# A truncated file must be an error, never a silently grey-filled image.
ImageFile.LOAD_TRUNCATED_IMAGES = False

PathLike = Union[str, os.PathLike]


def _open(path: PathLike, what: str, exif_transpose: bool = False) -> Image.Image:
    """Open and fully decode ``path``; every failure becomes a one-line :class:`DataError`."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f'{what} file not found: {path}')
    if os.path.isdir(path):
        raise DataError(f'{what} path is a directory, not a file: {path}')
    if os.path.getsize(path) == 0:
        raise DataError(f'cannot read {what} {path}: empty file (0 bytes)')
    try:
        img = Image.open(path)
        img.load()  # decode now, so truncation and corruption surface here
        if exif_transpose:
            img = ImageOps.exif_transpose(img)
    except UnidentifiedImageError:
        raise DataError(f'cannot read {what} {path}: not an image file (unknown format)') from None
    except Image.DecompressionBombError as exc:
        reason = ' '.join(str(exc).split())
        raise DataError(f'cannot read {what} {path}: too many pixels, refused as a possible '
                        f'decompression bomb ({reason})') from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = ' '.join(str(exc).split()) or type(exc).__name__
        raise DataError(f'cannot read {what} {path}: corrupt or truncated ({reason})') from None
    return img


def _int_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Integer grey values of unknown depth -> uint8 (rules in the module docstring)."""
    lo, hi = int(arr.min()), int(arr.max())
    if lo >= 0 and hi <= 255:
        return arr.astype(np.uint8)
    if lo >= 0 and hi <= 65535:
        return (arr.astype(np.int64) >> 8).astype(np.uint8)
    scaled = (arr.astype(np.float64) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def check_finite(arr: np.ndarray, what: str, path: str) -> None:
    """Raise :class:`DataError` (one line) if a float array holds NaN or infinite values.

    Args:
        arr: any array (integer and bool arrays are finite by construction and pass at once).
        what: what the array is (``'image'``, ``'mask'``), for the message.
        path: its path or description, for the message.
    """
    if arr.dtype.kind not in 'fc' or not arr.size:
        return
    finite = np.isfinite(arr)
    if not finite.all():
        bad = int(arr.size - np.count_nonzero(finite))
        subject = path if path.startswith((f'{what} (', f'{what} #')) else f'{what} {path}'
        raise DataError(f'{subject} has {bad} non-finite values (NaN or inf) of {arr.size}; '
                        'expected finite pixel values')


def _float_to_uint8(arr: np.ndarray, path: str = '<image>') -> np.ndarray:
    """32-bit float grey values -> uint8 (rules in the module docstring); NaN/inf are an error."""
    check_finite(arr, 'image', path)
    arr = arr.astype(np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    if lo >= 0 and hi <= 1:
        arr = arr * 255.0
    elif not (lo >= 0 and hi <= 255):
        arr = (arr - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def composite_alpha(rgba: np.ndarray, alpha: str = 'white') -> np.ndarray:
    """The alpha rule of every reader: uint8 ``(H, W, 4)`` RGBA -> uint8 ``(H, W, 3)`` RGB.

    Args:
        rgba: uint8 ``(H, W, 4)``, straight (not premultiplied) alpha.
        alpha: ``'white'`` | ``'black'`` (composite over that background, rounded to nearest)
            or ``'drop'`` (the stored colour).
    """
    if alpha not in ALPHA_MODES:
        raise DataError(f'alpha must be one of {ALPHA_MODES}, got {alpha!r}')
    return _composite(rgba, alpha)


def _composite(rgba: np.ndarray, alpha: str) -> np.ndarray:
    """(H, W, 4) uint8 -> (H, W, 3) uint8 according to ``alpha``."""
    rgb = rgba[..., :3]
    if alpha == 'drop':
        return np.ascontiguousarray(rgb)
    a = rgba[..., 3:4].astype(np.uint32)
    bg = 255 if alpha == 'white' else 0
    out = (rgb.astype(np.uint32) * a + bg * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def pil_to_rgb_array(img: Image.Image, alpha: str = 'white', path: str = '<image>') -> np.ndarray:
    """Convert a decoded PIL image of any mode to uint8 ``(H, W, 3)`` RGB.

    Args:
        img: the PIL image.
        alpha: ``'white'`` | ``'black'`` (composite over that background) or ``'drop'``.
        path: used in error messages only.

    Returns:
        np.ndarray: uint8 ``(H, W, 3)``.
    """
    if alpha not in ALPHA_MODES:
        raise DataError(f'alpha must be one of {ALPHA_MODES}, got {alpha!r}')
    mode = img.mode
    if mode == 'RGB':
        return np.asarray(img, dtype=np.uint8).copy()
    if mode == 'L':
        return _grey_to_rgb(np.asarray(img, dtype=np.uint8))
    if mode == '1':
        return _grey_to_rgb(np.asarray(img, dtype=bool).astype(np.uint8) * 255)
    if mode in ('RGBA', 'RGBa', 'LA', 'La', 'PA'):
        return _composite(np.asarray(img.convert('RGBA'), dtype=np.uint8), alpha)
    if mode == 'P':
        # Palette entries may carry transparency ('transparency' info); RGBA keeps it.
        if 'transparency' in img.info:
            return _composite(np.asarray(img.convert('RGBA'), dtype=np.uint8), alpha)
        return np.asarray(img.convert('RGB'), dtype=np.uint8).copy()
    if mode == 'RGBX':
        return np.asarray(img, dtype=np.uint8)[..., :3].copy()
    if mode.startswith('I;16'):
        arr = np.asarray(img).astype(np.uint16)  # handles the big-endian variants too
        return _grey_to_rgb((arr >> 8).astype(np.uint8))
    if mode in ('I', 'I;32', 'I;32B'):
        return _grey_to_rgb(_int_to_uint8(np.asarray(img)))
    if mode == 'F':
        return _grey_to_rgb(_float_to_uint8(np.asarray(img), path))
    try:  # CMYK, YCbCr, LAB, HSV, ...
        return np.asarray(img.convert('RGB'), dtype=np.uint8).copy()
    except (ValueError, OSError) as exc:
        raise DataError(f'cannot convert image {path} of PIL mode {mode} to RGB: {exc}') from None


def load_image(path: PathLike, alpha: str = 'white', exif_transpose: bool = False) -> np.ndarray:
    """Read an image file as uint8 ``(H, W, 3)`` RGB.

    Args:
        path: the image file.
        alpha: how to treat transparency: ``'white'`` (default) or ``'black'`` composite the image
            over that background; ``'drop'`` ignores alpha.
        exif_transpose: apply the EXIF orientation tag (default: pixels in stored order).

    Returns:
        np.ndarray: uint8 ``(H, W, 3)`` in RGB order.

    Raises:
        DataError: the file is missing, is not an image, or is corrupt/truncated.
    """
    img = _open(path, 'image', exif_transpose)
    return pil_to_rgb_array(img, alpha, os.fspath(path))


def grey_fraction(arr: np.ndarray, full: float) -> np.ndarray:
    """The mask grey rule: grey values of bit-depth maximum ``full`` -> float32 in [0, 1].

    Values are divided by ``full`` (255 for 8 bits, 65535 for 16), except that an array whose
    maximum is 1 (a 0/1 mask stored in an 8/16-bit file or array) is taken as 0/1 already.

    Args:
        arr: ``(H, W)`` grey values (any real dtype), in ``[0, full]``.
        full: the maximum of the bit depth.
    """
    arr = arr.astype(np.float32) if arr.dtype != np.float64 else arr
    if arr.size and arr.max() == 1 and full > 1:  # a 0/1-valued mask in an 8/16-bit file
        full = 1.0
    return (arr / full).astype(np.float32)


def _grey_fraction(img: Image.Image, path: str = '<mask>') -> np.ndarray:
    """Grey value in [0, 1] of any PIL image: max over colour channels / bit-depth maximum."""
    mode = img.mode
    if mode == '1':
        return np.asarray(img, dtype=bool).astype(np.float32)
    if mode.startswith('I;16'):
        arr, full = np.asarray(img).astype(np.float32), 65535.0
    elif mode in ('I', 'I;32', 'I;32B'):
        arr = np.asarray(img).astype(np.float64)
        full = 255.0 if arr.max() <= 255 else (65535.0 if arr.max() <= 65535 else arr.max())
    elif mode == 'F':
        arr = np.asarray(img).astype(np.float32)
        check_finite(arr, 'mask', path)
        full = 1.0 if arr.max() <= 1 else 255.0
    elif mode == 'L':
        arr, full = np.asarray(img).astype(np.float32), 255.0
    else:
        # RGB(A), LA, P, CMYK ...: drop alpha, take the brightest colour channel.
        rgb = np.asarray(img.convert('RGB'), dtype=np.uint8)
        arr, full = rgb.max(axis=2).astype(np.float32), 255.0
    return grey_fraction(arr, full)


def binarize_mask(grey: np.ndarray, threshold: float = 0.5,
                  polarity: str = 'white_is_hole', path: str = '<mask>') -> np.ndarray:
    """Grey values in [0, 1] -> float32 {0, 1} with 1 = hole (see module docstring).

    Args:
        grey: ``(H, W)`` float in [0, 1].
        threshold: a value strictly above it is white.
        polarity: ``'white_is_hole'`` | ``'black_is_hole'`` | ``'auto'`` (minority is the hole).
        path: used in error messages only.
    """
    if polarity not in POLARITIES:
        raise DataError(f'mask polarity must be one of {POLARITIES}, got {polarity!r} ({path})')
    if not 0.0 <= threshold < 1.0:
        raise DataError(f'mask threshold must be in [0, 1), got {threshold} ({path})')
    white = grey > threshold
    if polarity == 'auto':
        hole = white if white.mean() <= 0.5 else ~white
    elif polarity == 'white_is_hole':
        hole = white
    else:
        hole = ~white
    return hole.astype(np.float32)


def resize_nearest(arr: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an ``(H, W, ...)`` array of any dtype to ``size=(h, w)``.

    Sample positions are the pixel centres (``src = floor((dst + 0.5) * H / h)``), the same as
    PIL's ``NEAREST``; values are copied, never interpolated (safe for labels and binary masks).
    """
    h, w = int(size[0]), int(size[1])
    src_h, src_w = arr.shape[:2]
    if (h, w) == (src_h, src_w):
        return arr.copy()
    if h <= 0 or w <= 0:
        raise DataError(f'cannot resize to a non-positive size {(h, w)}')
    rows = np.minimum(((np.arange(h) + 0.5) * (src_h / h)).astype(np.int64), src_h - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * (src_w / w)).astype(np.int64), src_w - 1)
    return arr[rows[:, None], cols[None, :]]


def pil_to_mask(img: Image.Image, threshold: float = 0.5, polarity: str = 'white_is_hole',
                path: str = '<mask>') -> np.ndarray:
    """A decoded PIL image of any mode as a binary mask, float32 ``(H, W)``, 1 = missing.

    The same rules as :func:`load_mask` (grey value, threshold, polarity); ``path`` is used in
    error messages only.
    """
    if img.mode == 'L' and polarity in ('white_is_hole', 'black_is_hole') \
            and 0.0 <= threshold < 1.0:
        # 8-bit grey (most mask files): the same rule through a 256-entry table, computed with
        # the very float32 arithmetic of grey_fraction, instead of float copies of the image
        # (a 100-megapixel mask: 0.1 s instead of several).
        arr = np.asarray(img, dtype=np.uint8)
        full = np.float32(1.0 if arr.size and arr.max() == 1 else 255.0)
        white = (np.arange(256, dtype=np.float32) / full).astype(np.float32) > threshold
        table = (white if polarity == 'white_is_hole' else ~white).astype(np.float32)
        return table[arr]
    return binarize_mask(_grey_fraction(img, path), threshold, polarity, path)


def load_mask(path: PathLike, threshold: float = 0.5, polarity: str = 'white_is_hole',
              size: Optional[Sequence[int]] = None, exif_transpose: bool = False) -> np.ndarray:
    """Read a binary mask file: float32 ``(H, W)`` in ``{0, 1}``, **1 = missing**.

    Args:
        path: the mask file (any image format and mode).
        threshold: binarisation threshold as a fraction of the bit depth's maximum (0.5 = 127.5
            for 8-bit); a value strictly above it is white.
        polarity: ``'white_is_hole'`` (default, Liu et al. 2018 / NVIDIA irregular masks),
            ``'black_is_hole'`` or ``'auto'`` (minority colour = hole; wrong for masks > 50%).
        size: optional ``(h, w)``; the binary mask is resized to it with nearest neighbour.
        exif_transpose: apply the EXIF orientation tag (default: pixels in stored order).

    Returns:
        np.ndarray: float32 ``(H, W)`` (or ``size``), values 0 and 1.

    Raises:
        DataError: unreadable file, or a bad threshold/polarity.
    """
    mask = pil_to_mask(_open(path, 'mask', exif_transpose), threshold, polarity, os.fspath(path))
    if size is not None:
        mask = resize_nearest(mask, (size[0], size[1]))
    return mask


def load_label_map(path: PathLike, reduce_zero_label: bool = False) -> np.ndarray:
    """Read a per-pixel label map: int64 ``(H, W)``.

    Args:
        path: a single-channel PNG (``L``, ``P`` -- the palette index is the label --, ``I;16`` or
            ``I``). An RGB file is accepted only if its three channels are equal.
        reduce_zero_label: ADE20K convention: label 0 ("other") becomes 255 (ignore) and every
            other label ``k`` becomes ``k - 1``; 255 stays 255.

    Returns:
        np.ndarray: int64 ``(H, W)``.

    Raises:
        DataError: unreadable file or a colour-coded (RGB) label map.
    """
    img = _open(path, 'label map')
    if img.mode in ('L', 'P', 'I', 'I;16', 'I;16B', 'I;16L', 'I;16N', '1'):
        labels = np.asarray(img).astype(np.int64)
    elif img.mode in ('LA', 'PA'):
        labels = np.asarray(img)[..., 0].astype(np.int64)
    else:
        rgb = np.asarray(img.convert('RGB'))
        if not ((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()):
            raise DataError(f'label map {path} is colour-coded (PIL mode {img.mode}); '
                            'expected one channel of class indices (L or P mode PNG)')
        labels = rgb[..., 0].astype(np.int64)
    if reduce_zero_label:
        ignore = (labels == 0) | (labels == 255)
        labels = labels - 1
        labels[ignore] = 255
    return labels


def merge_part_masks(parts: Sequence[Tuple[int, PathLike]], background: int = 0) -> np.ndarray:
    """Merge per-part binary masks into one label map (CelebAMask-HQ annotation layout).

    Parts are painted in the given order, a later part overwriting an earlier one where both are
    set -- the rule of CelebAMask-HQ's own ``g_mask.py``. A pixel is in a part if its value is
    non-zero.

    Args:
        parts: ``[(label, path), ...]`` in painting order; all files must have the same size.
        background: label of pixels in no part.

    Returns:
        np.ndarray: int64 ``(H, W)``.

    Raises:
        DataError: no parts, an unreadable part file, or part files of different sizes.
    """
    if not parts:
        raise DataError('merge_part_masks: no part masks given')
    labels = None
    first = None
    for label, path in parts:
        img = _open(path, 'part mask')
        inside = _grey_fraction(img) > 0
        if labels is None:
            labels = np.full(inside.shape, background, np.int64)
            first = path
        elif inside.shape != labels.shape:
            raise DataError(f'part mask {path} is {inside.shape[1]}x{inside.shape[0]} but '
                            f'{first} is {labels.shape[1]}x{labels.shape[0]}')
        labels[inside] = int(label)
    return labels
