"""Common logic of the inpainting datasets: data list, mask pairing seed, private RNG stream.

A dataset produces, for each sample, a ``results`` dict for the pipeline::

    img_path      str, the image file
    seg_map_path  str, optional: the label map file (or ``seg_parts``: CelebAMask-HQ part files)
    reduce_zero_label  bool: ADE20K convention (0 -> 255, k -> k - 1) for LoadLabelMap
    mask_path     str, optional: a mask paired with this image by the dataset (ImageFolderDataset)
    sample_idx    int, index in the dataset (set by MMEngine)
    mask_seed     int (evaluation: the sample's mask is fixed by (mask_seed, sample_idx)) or
                  None (training: a new random mask per draw)

The mask itself comes from a pipeline transform (``GenerateMask`` or ``LoadMask``), OpenMMLab
style, so that the mask source is part of the pipeline config. ``PackInpaintInputs`` produces
``{'inputs': uint8 (3, H, W), 'data_samples': InpaintDataSample}``.

Randomness: the pipeline runs inside the dataset's own RNG stream (:class:`DataRNG`, seeded from
``(data_seed, rank, worker id)``), so training data is reproduced exactly when MMEngine re-iterates
the dataloader on resume, and the model's global RNG is never consumed by data loading.
"""
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset

from sair_toolbox.datasets.data_rng import DataRNG
from sair_toolbox.datasets.masks.pairing import MASK_SEED_KEY
from sair_toolbox.registry import TRANSFORMS
from sair_toolbox.utils.errors import DataError


def build_pipeline(pipeline: Sequence[Union[dict, Callable]]) -> List[Callable]:
    """Build transform configs with this package's registry (falls back to MMEngine/MMCV's).

    MMEngine's ``Compose`` builds from the root registry, which only finds our transforms when a
    default scope is set; building here works with or without a Runner.
    """
    built = []
    for t in pipeline or []:
        if isinstance(t, dict):
            t = TRANSFORMS.build(t)
        if not callable(t):
            raise TypeError(f'pipeline entries must be callables or dicts, got {type(t)}')
        built.append(t)
    return built


def require_dir(path: str, what: str, owner: str) -> None:
    """Raise a one-line :class:`DataError` if the folder ``path`` does not exist."""
    if not path or not osp.isdir(path):
        raise DataError(f'{owner}: {what} folder not found: {path or "<empty path>"}')


class BaseInpaintDataset(BaseDataset):
    """Base class: subclasses implement :meth:`load_data_list` returning dicts with ``img_path``
    (and optionally ``seg_map_path``/``seg_parts``, ``mask_path``, ``reduce_zero_label``).

    Args:
        data_root: dataset root; relative ``ann_file``/``data_prefix`` entries are joined to it.
        ann_file: optional list file (dataset-specific meaning).
        pipeline: transform configs or callables.
        test_mode: evaluation mode (deterministic masks unless ``deterministic_masks=False``).
        mask_seed: seed of the evaluation mask pairing; image ``i`` gets the mask determined by
            ``(mask_seed, i)`` on every run, process and rank.
        deterministic_masks: ``None`` = same as ``test_mode``; ``True``/``False`` to force.
        data_seed: seed of the dataset's private RNG stream (training augmentations and masks).
        with_label: load label maps (``None`` = when the dataset has them).
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset` (``metainfo``, ``indices``,
            ``serialize_data``, ``lazy_init``, ``max_refetch``, ``data_prefix``).
    """

    METAINFO: dict = dict(classes=())

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = '',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 mask_seed: int = 0,
                 deterministic_masks: Optional[bool] = None,
                 data_seed: int = 0,
                 with_label: Optional[bool] = None,
                 **kwargs):
        self.mask_seed = int(mask_seed)
        self.deterministic_masks = test_mode if deterministic_masks is None else bool(
            deterministic_masks)
        self.data_rng = DataRNG(data_seed)
        self.with_label = with_label
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            pipeline=build_pipeline(pipeline),
            test_mode=test_mode,
            **kwargs)

    @property
    def name(self) -> str:
        return type(self).__name__

    def _check_root(self) -> None:
        if self.data_root and not osp.isdir(self.data_root):
            raise DataError(f'{self.name}: data_root folder not found: {self.data_root}')

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info[MASK_SEED_KEY] = self.mask_seed if self.deterministic_masks else None
        return info

    def prepare_data(self, idx: int):
        """Run the pipeline on sample ``idx`` inside the dataset's private RNG stream."""
        with self.data_rng.activate():
            return super().prepare_data(idx)

    def _rand_another(self) -> int:
        # MMEngine draws a replacement index from the global RNG; keep it in our stream.
        with self.data_rng.activate():
            return int(np.random.randint(0, len(self)))

    def load_data_list(self) -> List[dict]:
        raise NotImplementedError
