"""``--cfg-options data_root=...`` (and the other path variables) reach every dataloader of every
config, as the config headers document."""
import glob
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from sair_toolbox.utils.config import merge_cfg_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'sair', '**', '*.py'), recursive=True))
PATH_VARIABLES = ('data_root', 'mask_root', 'mask_list_dir', 'train_root', 'test_root')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _strings(value)


def _mask_loaders(dataset):
    return [t for t in dataset.get('pipeline', []) if t.get('type') == 'LoadMask']


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_path_variables_reach_every_dataloader(path):
    cfg = Config.fromfile(path)
    variables = [v for v in PATH_VARIABLES if isinstance(cfg.get(v), str)]
    loaders = [name for name in LOADERS if cfg.get(name)]
    if not loaders:
        pytest.skip('no dataloaders')
    assert variables, 'every config with data names its paths in top-level variables'
    old = {v: cfg[v] for v in variables}
    new = {v: f'/elsewhere/{v}' for v in variables}
    followed = merge_cfg_options(cfg, new)
    assert set(followed) == set(variables)
    for name in loaders:
        dataset = cfg[name].dataset
        left = set(_strings(dataset)) & set(old.values())
        assert not left, f'{name} still reads {left}'
        roots = {'data_root'} | ({'train_root'} if name == 'train_dataloader' else {'test_root'})
        assert dataset.data_root in {new[v] for v in roots if v in new}, name
        for load_mask in _mask_loaders(dataset):
            assert load_mask['mask_root'] == new['mask_root']
            assert load_mask['list_files'] == new['mask_list_dir']
    # Dotted keys are merged as given; other strings are untouched.
    assert cfg.default_scope == 'sair_toolbox'


def test_only_top_level_strings_are_followed():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sair', 'sair_celebahq.py'))
    followed = merge_cfg_options(cfg, {'img_size': 128, 'mask_list_dir': None,
                                       'val_dataloader.dataset.data_root': '/v'})
    assert followed == {'mask_list_dir': ('data/irregular_masks/lists', None)}
    assert cfg.train_dataloader.dataset.pipeline[1]['size'] == 256  # ints are not followed
    assert _mask_loaders(cfg.train_dataloader.dataset)[0]['list_files'] is None
    assert cfg.val_dataloader.dataset.data_root == '/v'
    assert cfg.train_dataloader.dataset.data_root == 'data/celebahq'
    assert merge_cfg_options(cfg, None) == {}


def _tool(name):
    spec = importlib.util.spec_from_file_location(f'tool_{name}_cfg', osp.join(ROOT, 'tools',
                                                                              f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_documented_command_lines(tmp_path):
    # configs/sair/sair_celebahq.py's header: --cfg-options data_root=/data/CelebAMask-HQ ...
    config = osp.join(ROOT, 'configs', 'sair', 'sair_celebahq.py')
    options = ['--cfg-options', 'data_root=/data/CelebAMask-HQ',
               'model.sir.encoder.pretrained=/ckpt/clip.bin']
    train = _tool('train')
    cfg = train.build_train_cfg(train.parse_args([config, *options]))
    assert cfg.train_dataloader.dataset.data_root == '/data/CelebAMask-HQ'
    assert cfg.val_dataloader.dataset.data_root == '/data/CelebAMask-HQ'
    assert cfg.model.sir.encoder.pretrained == '/ckpt/clip.bin'
    ckpt = tmp_path / 'c.pth'
    torch.save(dict(state_dict={}), ckpt)
    test = _tool('test')
    cfg = test.build_test_cfg(test.parse_args([config, str(ckpt), *options]))
    assert cfg.test_dataloader.dataset.data_root == '/data/CelebAMask-HQ'
    # configs/sair/ablations/sair-2stage_celebahq.py: "or --cfg-options sir_checkpoint=..."
    config = osp.join(ROOT, 'configs', 'sair', 'ablations', 'sair-2stage_celebahq.py')
    cfg = train.build_train_cfg(train.parse_args([config, '--cfg-options',
                                                  'sir_checkpoint=/runs/sir.pth']))
    assert cfg.model.sir.init_cfg.checkpoint == '/runs/sir.pth'
