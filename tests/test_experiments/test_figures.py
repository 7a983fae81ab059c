"""The sharp-fills figure: the same val images, one column per model."""
import os.path as osp
import warnings

import torch
from mmengine.config import Config

from sair_toolbox.experiments import demo_tables
from sair_toolbox.experiments.figures import fills_figure, pick_val_images
from tests.test_configs.shrink import shrink


def test_pick_val_images_and_fills_figure(tmp_path):
    from sair_toolbox.engine.setup import register_all_modules
    from sair_toolbox.registry import DATASETS, MODELS
    register_all_modules()
    cfg = Config.fromfile(osp.join(demo_tables.ROOT, 'configs/sair/sair_demo.py'))
    dataset_cfg = cfg.test_dataloader.dataset.to_dict()
    dataset_cfg.update(data_root=str(tmp_path / 'demo'), image_size=32, num_train=3, num_val=9)
    dataset = DATASETS.build(dataset_cfg)
    images = pick_val_images(dataset, 4)
    # In turn from the 20-40 % and 40-60 % bins (val image i has bin i % 3).
    assert len(images) == 4
    ratios = [float(m.mean()) for _, m, _ in images]
    assert all(0.2 <= r <= 0.6 for r in ratios)
    assert ratios[0] < 0.4 <= ratios[1] and ratios[2] < 0.4 <= ratios[3]
    img, mask, _ = images[0]
    assert img.shape == (3, 32, 32) and 0 <= img.min() and img.max() <= 1
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        sair = MODELS.build(shrink(cfg.model.to_dict()))
        liif = MODELS.build(dict(shrink(cfg.model.to_dict()), sir=None))
    out = tmp_path / 'fills.png'
    fills_figure({'LIIF L1': liif, 'SAIR L1': sair}, images, str(out), title='t')
    assert osp.getsize(out) > 1000
    # Columns need all four rows' checkpoints; without them nothing is drawn.
    assert not demo_tables.sharp_fills_figure({}, str(tmp_path / 'none.png'), seed=0)
