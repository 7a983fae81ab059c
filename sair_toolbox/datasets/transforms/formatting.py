"""Pack a pipeline's results into the model's input format."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from sair_toolbox.datasets.masks.pairing import as_bins
from sair_toolbox.datasets.masks.ratio_bins import DEFAULT_BINS, assign_bin
from sair_toolbox.registry import TRANSFORMS
from sair_toolbox.structures import InpaintDataSample
from sair_toolbox.utils.errors import DataError, ShapeError

#: Metainfo copied from ``results`` when present (``mask_ratio``/``mask_bin`` are computed).
DEFAULT_META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'sample_idx', 'mask_source', 'flip')


@TRANSFORMS.register_module()
class PackInpaintInputs(BaseTransform):
    """``results`` -> ``{'inputs': uint8 (3, H, W), 'data_samples': InpaintDataSample}``.

    The data sample holds ``mask`` (float32 ``(1, H, W)``, 1 = missing), ``gt_sem_seg`` (int64
    ``(H, W)``, 255 = ignore; only if a label map was loaded) and metainfo ``img_path``,
    ``ori_shape``, ``img_shape``, ``sample_idx``, ``mask_source``, ``mask_ratio`` (hole fraction
    of the final mask) and ``mask_bin`` (its bin name, e.g. ``'20-40'``, or ``None``).

    Args:
        bins: ratio bins used to name ``mask_bin``.
        meta_keys: keys copied into the metainfo when present in ``results``.

    Raises:
        DataError: no image or no mask in ``results``.
        ShapeError: mask or label map size differs from the image's (message names the image).
    """

    def __init__(self, bins: Sequence[Sequence[float]] = DEFAULT_BINS,
                 meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.bins = as_bins(bins)
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        path = results.get('img_path', '<no img_path>')
        if img is None:
            raise DataError(f'PackInpaintInputs: no image for {path} (put LoadImage first)')
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ShapeError(f'image {path}: expected uint8 (H, W, 3), got {img.dtype} '
                             f'{tuple(img.shape)}')
        mask = results.get('mask')
        if mask is None:
            raise DataError(f'PackInpaintInputs: no mask for {path} '
                            '(add GenerateMask or LoadMask to the pipeline)')
        h, w = img.shape[:2]
        if mask.shape != (h, w):
            raise ShapeError(f'mask size {tuple(mask.shape)} does not match image size {(h, w)} '
                             f'of {path}')
        sample = InpaintDataSample()
        mask = np.ascontiguousarray(mask, dtype=np.float32)
        sample.mask = torch.from_numpy(mask)[None]
        seg = results.get('gt_seg_map')
        if seg is not None:
            if seg.shape != (h, w):
                raise ShapeError(f'label map size {tuple(seg.shape)} does not match image size '
                                 f'{(h, w)} of {path}')
            sample.gt_sem_seg = torch.from_numpy(np.ascontiguousarray(seg, dtype=np.int64))
        meta = {k: results[k] for k in self.meta_keys if k in results}
        ratio = float(mask.mean())
        meta['mask_ratio'] = ratio
        meta['mask_bin'] = assign_bin(ratio, self.bins)
        meta.setdefault('mask_source', 'unknown')
        sample.set_metainfo(meta)
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        return {'inputs': inputs, 'data_samples': sample}

    def __repr__(self) -> str:
        return f'{type(self).__name__}(bins={self.bins}, meta_keys={self.meta_keys})'
