"""The embedded demo data set: procedural landscapes with per-pixel labels (see demo_scenes), or,
with ``world='knowledge'``, the knowledge-gap world of issue 25 (see knowledge_scenes)."""
import os.path as osp
from typing import List, Optional

from sair_toolbox.datasets.base_inpaint_dataset import BaseInpaintDataset
from sair_toolbox.datasets.demo_scenes import (DEMO_CLASSES, DEMO_PALETTE, DEMO_SPLITS,
                                               check_demo_data, ensure_demo_data)
from sair_toolbox.datasets.knowledge_scenes import (DEFAULT_ENCODER_CHUNK, DEFAULT_NUM_CATEGORIES,
                                                    DEFAULT_NUM_ENCODER, DEFAULT_NUM_SEEN,
                                                    NUM_STUFF, check_knowledge_data,
                                                    ensure_knowledge_data, knowledge_classes,
                                                    knowledge_palette, load_records,
                                                    seen_categories)
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
        world: ``'landscape'`` (default: the world above) or ``'knowledge'``: objects of
            ``num_categories`` categories told apart by structure, not colour; ``train`` holds
            only the ``num_seen`` seen categories, ``val`` alternates seen / unseen images (each
            sample's ``category_group`` says which; ``metainfo['seen_labels']`` and
            ``['unseen_labels']`` list the label values of each kind). The encoder scenes
            (``num_encoder``, cached in chunks of ``encoder_chunk``) are read with
            :class:`~sair_toolbox.datasets.knowledge_scenes.KnowledgeEncoderScenes`.
        num_categories, num_seen, num_encoder, encoder_chunk: the knowledge world's split
            (``None``: its defaults); not accepted by the landscape world.
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
                 world: str = 'landscape',
                 num_categories: Optional[int] = None,
                 num_seen: Optional[int] = None,
                 num_encoder: Optional[int] = None,
                 encoder_chunk: Optional[int] = None,
                 **kwargs):
        if split not in DEMO_SPLITS:
            raise ConfigError(f'DemoDataset: split must be one of {sorted(DEMO_SPLITS)}, '
                              f'got {split!r}')
        if world not in ('landscape', 'knowledge'):
            raise ConfigError(f"DemoDataset: world must be 'landscape' or 'knowledge', "
                              f'got {world!r}')
        self.split = split
        self.world = world
        self.gen_args = dict(image_size=int(image_size), num_train=int(num_train),
                             num_val=int(num_val), seed=int(seed))
        self.auto_generate = auto_generate
        split_args = dict(num_categories=num_categories, num_seen=num_seen,
                          num_encoder=num_encoder, encoder_chunk=encoder_chunk)
        if world == 'knowledge':
            defaults = dict(num_categories=DEFAULT_NUM_CATEGORIES, num_seen=DEFAULT_NUM_SEEN,
                            num_encoder=DEFAULT_NUM_ENCODER, encoder_chunk=DEFAULT_ENCODER_CHUNK)
            self.gen_args.update({k: int(defaults[k] if v is None else v)
                                  for k, v in split_args.items()})
            n = self.gen_args['num_categories']
            seen = seen_categories(n, self.gen_args['num_seen'], self.gen_args['seed'])
            metainfo = dict(classes=knowledge_classes(n),
                            palette=[list(c) for c in knowledge_palette(n)],
                            seen_labels=[NUM_STUFF + c for c in seen],
                            unseen_labels=[NUM_STUFF + c for c in range(n) if c not in seen])
            metainfo.update(kwargs.pop('metainfo', None) or {})
            kwargs['metainfo'] = metainfo
        elif any(v is not None for v in split_args.values()):
            given = sorted(k for k, v in split_args.items() if v is not None)
            raise ConfigError(f"DemoDataset: {given} apply to world='knowledge' only")
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        if self.world == 'knowledge':
            return self._knowledge_data_list()
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

    def _knowledge_data_list(self) -> List[dict]:
        if self.auto_generate:
            ensure_knowledge_data(self.data_root, **self.gen_args)
        elif not check_knowledge_data(self.data_root, **self.gen_args):
            raise DataError(f'{self.name}: no knowledge demo data in {self.data_root} (build '
                            "the dataset once with auto_generate=True)")
        base = osp.join(self.data_root, self.split)
        return [dict(img_path=osp.join(base, 'images', f'{i:05d}.png'),
                     seg_map_path=osp.join(base, 'labels', f'{i:05d}.png'),
                     part_map_path=osp.join(base, 'parts', f'{i:05d}.png'),
                     category_group=rec['group'],
                     categories=sorted({o['category'] for o in rec['objects']}))
                for i, rec in enumerate(load_records(self.data_root, self.split))]
