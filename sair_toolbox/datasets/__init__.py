"""Datasets, masks and transforms. Importing this package registers every dataset (DATASETS)
and transform (TRANSFORMS); ``sair_toolbox.registry`` points its locations here."""
from sair_toolbox.utils.autoimport import import_submodules

from . import masks, transforms  # noqa: F401  (registers the transforms)

import_submodules(__name__, __path__)

from .ade20k_dataset import ADE20K_CLASSES, ADE20KDataset  # noqa: E402
from .base_inpaint_dataset import BaseInpaintDataset  # noqa: E402
from .celebahq_dataset import CELEBAMASK_HQ_CLASSES, CelebAHQDataset  # noqa: E402
from .data_rng import DataRNG  # noqa: E402
from .demo_dataset import DemoDataset  # noqa: E402
from .demo_scenes import DEMO_CLASSES, ensure_demo_data, render_scene  # noqa: E402
from .image_folder_dataset import ImageFolderDataset  # noqa: E402
from .image_io import load_image, load_label_map, load_mask  # noqa: E402
from .masks import IrregularMaskSet, ProceduralMaskGenerator, sort_masks  # noqa: E402

__all__ = [
    'BaseInpaintDataset', 'CelebAHQDataset', 'ADE20KDataset', 'ImageFolderDataset',
    'DemoDataset', 'DataRNG', 'load_image', 'load_mask', 'load_label_map',
    'ProceduralMaskGenerator', 'IrregularMaskSet', 'sort_masks', 'ensure_demo_data',
    'render_scene', 'DEMO_CLASSES', 'ADE20K_CLASSES', 'CELEBAMASK_HQ_CLASSES'
]
