"""configs/sair/sair_image_folder.py trains on a folder of one's own photos, pointed at it from
the command line as its header says."""
import importlib.util
import os.path as osp
import uuid
import warnings

import numpy as np
from mmengine.config import Config
from PIL import Image

from sair_toolbox.visualization.curves import read_scalars

from .shrink import shrink

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'sair', 'sair_image_folder.py')


def _photos(folder, sizes):
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        sub = folder / ('a' if i % 2 else 'b')  # nested folders are read too
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(sub / f'{i}.jpg')


def test_roots_come_first():
    with open(CONFIG) as f:
        first = [next(f).split('=')[0].strip() for _ in range(2)]
    assert first == ['train_root', 'test_root']


def test_trains_two_iterations_on_a_folder(tmp_path):
    _photos(tmp_path / 'train', [(300, 260), (256, 256), (280, 400), (260, 300)])
    _photos(tmp_path / 'test', [(256, 300), (270, 256)])
    # The config as written, scaled down: the model (shrink) and the crops (256 -> 64).
    cfg = Config.fromfile(CONFIG)
    cfg.model = shrink(cfg.model.to_dict())
    for split in ('train', 'val', 'test'):
        for step in cfg[f'{split}_dataloader'].dataset.pipeline:
            if step['type'] in ('Resize', 'RandomCrop', 'CenterCrop'):
                step['size'] = 64
    cfg.experiment_name = f'image_folder_{uuid.uuid4().hex[:12]}'
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)

    spec = importlib.util.spec_from_file_location('train_tool_if', osp.join(ROOT, 'tools',
                                                                             'train.py'))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    options = [f'train_root={tmp_path / "train"}', f'test_root={tmp_path / "test"}',
               'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'log_level=WARNING',
               'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2']
    for split in ('train', 'val', 'test'):
        options += [f'{split}_dataloader.batch_size=2', f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random-init warning of the shrunk encoder
        runner = train.main([config, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                             *options])
    assert runner.train_dataloader.dataset.data_root == str(tmp_path / 'train')
    assert len(runner.train_dataloader.dataset) == 4
    assert len(runner.val_dataloader.dataset) == 2
    assert osp.isfile(tmp_path / 'work' / 'iter_2.pth')
    scalars = read_scalars(str(tmp_path / 'work'))
    assert [s for s, _ in scalars['loss']] == [1, 2]
    assert scalars['all/count'] == [(2, 2.0)]
    # The visualization hook drew the 2 val photos (no class names: no class maps).
    assert len(list((tmp_path / 'work').glob('*/vis_data/vis_image/val_samples_2.png'))) == 1
