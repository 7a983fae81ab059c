"""The embedded demo data set: procedural landscapes with per-pixel labels (see demo_scenes)."""
import os.path as osp
from typing import List

from sair_toolbox.datasets.base_inpaint_dataset import BaseInpaintDataset
from sair_toolbox.datasets.demo_scenes import (DEMO_CLASSES, DEMO_PALETTE, DEMO_SPLITS,
                                               check_demo_data, ensure_demo_data)
from sair_toolbox.registry import DATASETS
from sair_toolbox.utils.errors import ConfigError, DataError


@DATASETS.register_module()
class DemoDataset(BaseInpaintDataset):
    """Generated landscapes (11 classes: sky, cloud, sun, mountain, grass, water, wall, roof,
    window, trunk, foliage) with label maps; generated into ``data_root`` on first use.

    Args:
        data_root: folder of the demo data (generated there if absent or empty).
        split: ``'train'`` or ``'val'``.
        image_size: image side in pixels.
        num_train, num_val: images per split.
        seed: generation seed.
        auto_generate: generate if missing (else a missing folder is a :class:`DataError`).
        **kwargs: see :class:`BaseInpaintDataset`.
    """

    METAINFO = dict(classes=DEMO_CLASSES, palette=[list(c) for c in DEMO_PALETTE])

    def __init__(self,
                 data_root: str = 'data/demo',
                 split: str = 'train',
                 image_size: int = 64,
                 num_train: int = 400,
                 num_val: int = 40,
                 seed: int = 0,
                 auto_generate: bool = True,
                 **kwargs):
        if split not in DEMO_SPLITS:
            raise ConfigError(f'DemoDataset: split must be one of {sorted(DEMO_SPLITS)}, '
                              f'got {split!r}')
        self.split = split
        self.gen_args = dict(image_size=int(image_size), num_train=int(num_train),
                             num_val=int(num_val), seed=int(seed))
        self.auto_generate = auto_generate
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        if self.auto_generate:
            ensure_demo_data(self.data_root, **self.gen_args)
        elif not check_demo_data(self.data_root, **self.gen_args):
            raise DataError(f'{self.name}: no demo data in {self.data_root} (run '
                            f'tools/make_demo_data.py --out {self.data_root})')
        count = self.gen_args['num_train' if self.split == 'train' else 'num_val']
        base = osp.join(self.data_root, self.split)
        return [dict(img_path=osp.join(base, 'images', f'{i:05d}.png'),
                     seg_map_path=osp.join(base, 'labels', f'{i:05d}.png'))
                for i in range(count)]
