"""DemoFeatureNetWeights trains the demo metric network once, deterministically, and caches it."""
import json
import os.path as osp

import numpy as np
import torch

from sair_toolbox.registry import MODELS
from sair_toolbox.models.weights_providers.demo_feature_net_weights import (
    META_FILE, WEIGHTS_FILE, DemoFeatureNetWeights)

TINY_RECIPE = dict(num_scenes=20, image_size=32, steps=3, batch_size=4)


def _net(cache_dir):
    return MODELS.build(dict(type='DemoFeatureNet', widths=(8, 16),
                             pretrained=dict(type='DemoFeatureNetWeights', cache_dir=str(cache_dir),
                                             **TINY_RECIPE)))


def test_trains_once_caches_and_leaves_the_global_rngs(tmp_path):
    # Training on first use draws nothing from the caller's RNGs: building the network leaves
    # them where building it from the cache does.
    torch.manual_seed(123)
    np.random.seed(5)
    first = _net(tmp_path / 'cache')
    after_training = torch.get_rng_state(), np.random.get_state()[1].copy()
    torch.manual_seed(123)
    np.random.seed(5)
    _net(tmp_path / 'cache')
    assert torch.equal(torch.get_rng_state(), after_training[0])
    assert (np.random.get_state()[1] == after_training[1]).all()
    meta = json.load(open(tmp_path / 'cache' / META_FILE))
    assert meta['model_cfg'] == dict(num_classes=11, widths=[8, 16])
    assert set(meta['result']) >= {'seconds', 'presence_accuracy'}
    mtime = osp.getmtime(tmp_path / 'cache' / WEIGHTS_FILE)
    second = _net(tmp_path / 'cache')  # from the cache, not retrained
    assert osp.getmtime(tmp_path / 'cache' / WEIGHTS_FILE) == mtime
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    # Deterministic: another cache folder gets the same weights.
    third = _net(tmp_path / 'other')
    for a, b in zip(first.state_dict().values(), third.state_dict().values()):
        assert torch.equal(a, b)
    feats = first(torch.rand(2, 3, 32, 32))
    assert feats.shape == (2, 16)


def test_stale_and_corrupt_caches_are_rebuilt(tmp_path):
    provider = DemoFeatureNetWeights(cache_dir=str(tmp_path / 'c'), **TINY_RECIPE)
    cfg = dict(num_classes=11, widths=[8, 16])
    assert provider.check(cfg) == 'absent'
    path = provider.resolve(model_cfg=cfg)
    assert provider.check(cfg) is None
    assert provider.check(dict(cfg, widths=[8, 8])) == 'stale (other model_cfg)'
    with open(path, 'ab') as f:
        f.write(b'x')
    assert provider.check(cfg).startswith('corrupt')
    provider.resolve(model_cfg=cfg)
    assert provider.check(cfg) is None
