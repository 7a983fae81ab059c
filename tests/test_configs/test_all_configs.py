"""Every config under configs/ builds, runs forward + backward, and the ablations differ from
their main config only where their name says."""
import glob
import os
import warnings

import pytest
import torch
from mmengine.config import Config

from sair_toolbox.registry import MODELS
from sair_toolbox.structures import InpaintDataSample

from .shrink import shrink

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'configs', 'sair', '**', '*.py'), recursive=True))


def _name(path):
    return os.path.relpath(path, os.path.join(ROOT, 'configs'))


def _batch(size=32):
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8)
              for _ in range(2)]
    samples = []
    for _ in range(2):
        s = InpaintDataSample()
        s.mask = (torch.rand(1, size, size, generator=g) > 0.6).float()
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_configs_are_found():
    names = {_name(p) for p in CONFIGS}
    for expected in ['sair/sair_demo.py', 'sair/sair_celebahq.py', 'sair/sair_ade20k.py',
                     'sair/ablations/liif_celebahq.py', 'sair/ablations/sair-nfs_ade20k.py',
                     'sair/ablations/sair-ous_celebahq.py', 'sair/ablations/sair-sam_ade20k.py',
                     'sair/ablations/edsr-liif_celebahq.py', 'sair/ablations/sair-edsr_ade20k.py',
                     'sair/ablations/lte_celebahq.py', 'sair/ablations/semlte_ade20k.py']:
        assert expected in names


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_model_builds_and_backpropagates(path):
    cfg = Config.fromfile(path)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random-init warnings of the shrunk encoders
        model = MODELS.build(shrink(cfg.model))
    model.init_weights()
    model.train()
    data = model.data_preprocessor(_batch(), True)
    losses = model(**data, mode='loss')
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)


def _model(path):
    return Config.fromfile(path).model.to_dict()


def _diff(a, b, prefix=''):
    """Paths at which two nested config dicts differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f'{prefix}{k}.')
        return out
    return [] if a == b else [prefix.rstrip('.')]


# What each ablation may change relative to its main config (model part), by name.
EXPECTED_MODEL_DIFF = {
    'liif': {'sir'},
    'sair-nfs': {'sir.head'},
    'sair-ous': {'appearance_encoder'},
    'sair-sam': {'sir.encoder.type', 'sir.encoder.arch', 'sir.encoder.pretrained',
                 'sir.encoder.checkpoint'},
    'edsr-liif': {'appearance_encoder.type', 'appearance_encoder.base_channels',
                  'appearance_encoder.num_res_blocks', 'sir'},
    'sair-edsr': {'appearance_encoder.type', 'appearance_encoder.base_channels',
                  'appearance_encoder.num_res_blocks'},
    'lte': {'sir', 'air_head.type', 'air_head.hidden_channels'},
    'semlte': {'air_head.type', 'air_head.hidden_channels'},
    'sair-classlogits': {'fusion'},
    'sair-2stage': {'sir.frozen', 'sir.init_cfg'},
}


@pytest.mark.parametrize('dataset', ['celebahq', 'ade20k'])
@pytest.mark.parametrize('ablation', sorted(EXPECTED_MODEL_DIFF))
def test_ablation_differs_only_where_its_name_says(ablation, dataset):
    main = os.path.join(ROOT, 'configs', 'sair', f'sair_{dataset}.py')
    path = os.path.join(ROOT, 'configs', 'sair', 'ablations', f'{ablation}_{dataset}.py')
    diff = set(_diff(_model(main), _model(path)))
    assert diff and diff <= EXPECTED_MODEL_DIFF[ablation], diff
    main_cfg, cfg = Config.fromfile(main), Config.fromfile(path)
    for key in ['train_dataloader', 'val_dataloader', 'optim_wrapper', 'param_scheduler',
                'train_cfg', 'val_evaluator']:
        assert cfg.get(key) == main_cfg.get(key), key


# The demo ablations also give the swapped-in component the demo's (small) sizes.
DEMO_SIZES = {
    'edsr-liif': {'appearance_encoder.channels', 'appearance_encoder.num_blocks'},
    'sair-edsr': {'appearance_encoder.channels', 'appearance_encoder.num_blocks'},
    'lte': {'air_head.mlp_hidden'},
    'semlte': {'air_head.mlp_hidden'},
}


@pytest.mark.parametrize('ablation', sorted(set(EXPECTED_MODEL_DIFF)
                                            - {'sair-sam'}))
def test_demo_ablation_differs_only_where_its_name_says(ablation):
    main = os.path.join(ROOT, 'configs', 'sair', 'sair_demo.py')
    path = os.path.join(ROOT, 'configs', 'sair', 'ablations', f'{ablation}_demo.py')
    diff = set(_diff(_model(main), _model(path)))
    assert diff and diff <= EXPECTED_MODEL_DIFF[ablation] | DEMO_SIZES.get(ablation, set()), diff
    main_cfg, cfg = Config.fromfile(main), Config.fromfile(path)
    for key in ['train_dataloader', 'val_dataloader', 'optim_wrapper', 'param_scheduler',
                'train_cfg', 'val_evaluator', 'randomness']:
        assert cfg.get(key) == main_cfg.get(key), key
