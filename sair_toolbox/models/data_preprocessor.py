"""Batches images and masks and checks that they fit together."""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from sair_toolbox.registry import MODELS
from sair_toolbox.utils.errors import DataError, ShapeError


def _where(sample) -> str:
    path = sample.metainfo.get('img_path') if hasattr(sample, 'metainfo') else None
    return f' ({path})' if path else ''


@MODELS.register_module()
class InpaintDataPreprocessor(BaseDataPreprocessor):
    """Stack uint8 images into float [0, 1] and attach stacked masks.

    Input (from ``pseudo_collate``): ``inputs`` a list of (3, H, W) uint8 (or float in [0, 1])
    tensors, ``data_samples`` a list of :class:`InpaintDataSample` with ``mask`` (1, H, W).

    Output: ``dict(inputs=(B, 3, H, W) float in [0, 1], data_samples=list)``; every data
    sample's ``mask`` is checked to be binary and the size of its image, so a wrong mask fails
    here with the image path instead of deep inside the model.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs: Union[Tensor, Sequence[Tensor]] = data['inputs']
        samples: Optional[List] = data.get('data_samples')
        if samples is None:
            raise ShapeError('a batch needs data_samples carrying the masks')
        imgs = list(inputs) if not isinstance(inputs, Tensor) or inputs.dim() == 4 else [inputs]
        sizes = {tuple(img.shape) for img in imgs}
        if len(sizes) != 1:
            raise ShapeError(f'images of one batch must have the same size, got {sorted(sizes)}; '
                             'resize or crop them in the pipeline, or use batch_size=1')
        for img, sample in zip(imgs, samples):
            if img.dim() != 3 or img.shape[0] != 3:
                raise ShapeError(f'expected a (3, H, W) RGB image{_where(sample)}, got '
                                 f'{tuple(img.shape)}')
            mask = sample.mask
            if mask.dim() != 3 or mask.shape[0] != 1 or mask.shape[-2:] != img.shape[-2:]:
                raise ShapeError(f'mask of size {tuple(mask.shape[-2:])} does not match its image '
                                 f'of size {tuple(img.shape[-2:])}{_where(sample)}')
            if not bool(((mask == 0) | (mask == 1)).all()):
                raise DataError(f'mask is not binary (values in [{float(mask.min()):g}, '
                                f'{float(mask.max()):g}]){_where(sample)}; binarise it with a '
                                'threshold (1 = missing)')
        batch = torch.stack(imgs)
        if batch.dtype == torch.uint8:
            batch = batch.float() / 255.0
        else:
            batch = batch.float()
            if batch.min() < 0 or batch.max() > 1:
                raise ShapeError('float images must be in [0, 1]')
        return dict(inputs=batch, data_samples=samples)


def build_data_preprocessor(cfg: Optional[Union[dict, 'BaseDataPreprocessor']]):
    """Build from this package's registry, so that it works with or without a default scope
    (MMEngine's ``BaseModel`` would look in its root registry only)."""
    if cfg is None:
        cfg = dict(type='InpaintDataPreprocessor')
    return MODELS.build(cfg) if isinstance(cfg, dict) else cfg


def stack_masks(data_samples: Sequence) -> Tensor:
    """(B, 1, H, W) float masks of a batch of data samples (1 = missing)."""
    return torch.stack([s.mask for s in data_samples]).float()
