"""Loading transforms: image and label map."""
import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from sair_toolbox.datasets.image_io import (ALPHA_MODES, load_image, load_label_map,
                                            merge_part_masks, resize_nearest)
from sair_toolbox.registry import TRANSFORMS
from sair_toolbox.utils.errors import ConfigError, DataError, ShapeError


@TRANSFORMS.register_module()
class LoadImage(BaseTransform):
    """Read ``results['img_path']`` with :func:`~sair_toolbox.datasets.image_io.load_image`.

    Adds ``img`` (uint8 ``(H, W, 3)`` RGB), ``ori_shape`` and ``img_shape`` (both ``(H, W)``).

    Args:
        alpha: ``'white'`` (default) / ``'black'``: composite transparent images over that colour;
            ``'drop'``: ignore alpha.
        exif_transpose: apply the EXIF orientation (default False: stored pixel order).
        min_size: smallest accepted image side; a smaller image is a :class:`DataError` naming
            it (e.g. a 1x1 file in a folder that the pipeline would otherwise blow up to 256).
    """

    def __init__(self, alpha: str = 'white', exif_transpose: bool = False, min_size: int = 1):
        if alpha not in ALPHA_MODES:
            raise ConfigError(f'LoadImage: alpha must be one of {ALPHA_MODES}, got {alpha!r}')
        self.alpha = alpha
        self.exif_transpose = exif_transpose
        self.min_size = int(min_size)

    def transform(self, results: dict) -> dict:
        if 'img_path' not in results:
            raise DataError('LoadImage: results have no img_path')
        img = load_image(results['img_path'], self.alpha, self.exif_transpose)
        if min(img.shape[:2]) < self.min_size:
            raise DataError(f'image {results["img_path"]} is {img.shape[1]}x{img.shape[0]} '
                            f'pixels; at least {self.min_size}x{self.min_size} are needed')
        results['img'] = img
        results['ori_shape'] = img.shape[:2]
        results['img_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(alpha={self.alpha!r}, '
                f'exif_transpose={self.exif_transpose}, min_size={self.min_size})')


@TRANSFORMS.register_module()
class LoadLabelMap(BaseTransform):
    """Read the label map into ``results['gt_seg_map']`` (int64 ``(H, W)``, 255 = ignore).

    Sources, in order: ``seg_map_path`` (a label PNG) or ``seg_parts`` (``[(label, path), ...]``,
    CelebAMask-HQ part masks merged in order). Samples with neither are passed through unchanged
    (datasets without labels), unless ``required=True``.

    A label map whose size differs from the loaded image but has the same aspect ratio (the
    512x512 CelebAMask-HQ annotations of 1024x1024 images) is resized to the image with nearest
    neighbour; a different aspect ratio is a :class:`ShapeError`.

    Args:
        reduce_zero_label: ``None`` = take ``results['reduce_zero_label']`` (set by the dataset);
            ``True``: 0 -> 255 and k -> k - 1 (ADE20K).
        required: raise if the sample has no label source.
    """

    def __init__(self, reduce_zero_label: Optional[bool] = None, required: bool = False):
        self.reduce_zero_label = reduce_zero_label
        self.required = required

    def transform(self, results: dict) -> dict:
        reduce = self.reduce_zero_label
        if reduce is None:
            reduce = bool(results.get('reduce_zero_label', False))
        if results.get('seg_map_path'):
            labels = load_label_map(results['seg_map_path'], reduce)
            source = results['seg_map_path']
        elif results.get('seg_parts'):
            labels = merge_part_masks(results['seg_parts'])
            if reduce:
                labels = np.where(labels == 0, 255, labels - 1)
            source = osp.dirname(results['seg_parts'][0][1])
        else:
            if self.required:
                raise DataError(f'LoadLabelMap: no label map for {results.get("img_path")}')
            return results
        img = results.get('img')
        if img is not None and labels.shape != img.shape[:2]:
            lh, lw = labels.shape
            ih, iw = img.shape[:2]
            if lh * iw != lw * ih:
                raise ShapeError(
                    f'label map {source} is {lw}x{lh} but image {results.get("img_path")} is '
                    f'{iw}x{ih} (different aspect ratio)')
            labels = resize_nearest(labels, (ih, iw))
        results['gt_seg_map'] = labels
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(reduce_zero_label={self.reduce_zero_label}, '
                f'required={self.required})')
