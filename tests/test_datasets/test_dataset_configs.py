"""configs/_base_/datasets/*.py load, and build through MMEngine's Runner machinery."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from sair_toolbox.utils.errors import DataError

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'configs' / '_base_' / 'datasets'


@pytest.fixture(autouse=True)
def sair_scope():
    name = 'test_dataset_configs'
    DefaultScope.get_instance(name, scope_name='sair_toolbox')
    yield
    DefaultScope._instance_dict.pop(name, None)


@pytest.mark.parametrize('name', ['demo', 'celebahq', 'ade20k', 'image_folder'])
def test_config_loads(name):
    cfg = Config.fromfile(str(CONFIGS / f'{name}.py'))
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert cfg.val_dataloader.sampler == dict(type='DefaultSampler', shuffle=False)
    assert cfg.test_dataloader.dataset.test_mode is True
    assert cfg.train_pipeline[-1].type == 'PackInpaintInputs'
    assert cfg.mask_seed == 0 and ('data_root' in cfg or 'train_root' in cfg)


def test_demo_config_builds_dataloaders(demo_root, demo_args):
    cfg = Config.fromfile(str(CONFIGS / 'demo.py'))
    for key, split in (('train_dataloader', 'train'), ('val_dataloader', 'val')):
        dl_cfg = cfg[key].copy()
        dl_cfg.update(num_workers=0, persistent_workers=False, batch_size=3)
        dl_cfg.dataset.update(data_root=demo_root, num_train=demo_args['num_train'],
                              num_val=demo_args['num_val'], image_size=demo_args['image_size'])
        loader = Runner.build_dataloader(dl_cfg, seed=0)
        batch = next(iter(loader))
        assert len(batch['inputs']) == 3 and batch['inputs'][0].dtype == torch.uint8
        assert batch['inputs'][0].shape == (3, 32, 32)
        assert batch['data_samples'][0].gt_sem_seg.shape == (32, 32)
        assert loader.dataset.metainfo['classes'][0] == 'sky'
        if split == 'val':
            assert [s.mask_bin for s in batch['data_samples']] == ['0-20', '20-40', '40-60']


@pytest.mark.parametrize('name,missing', [('celebahq', 'irregular_masks'),
                                          ('ade20k', 'irregular_masks'),
                                          ('image_folder', 'data/images/train')])
def test_missing_data_is_a_clear_error(name, missing, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative data paths resolve to nothing here
    cfg = Config.fromfile(str(CONFIGS / f'{name}.py'))
    with pytest.raises(DataError, match=missing):
        Runner.build_dataloader(cfg.train_dataloader, seed=0)


def test_celebahq_config_missing_root_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'masks').mkdir()
    from PIL import Image
    Image.new('L', (8, 8), 255).save(tmp_path / 'masks' / 'm.png')
    cfg = Config.fromfile(str(CONFIGS / 'celebahq.py'))
    ds_cfg = cfg.train_dataloader
    ds_cfg.dataset.pipeline[3].update(mask_root='masks', list_files=None)
    with pytest.raises(DataError, match='data_root folder not found: data/celebahq'):
        Runner.build_dataloader(ds_cfg, seed=0)
