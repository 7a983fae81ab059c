"""A first run equals a later one: providers that pretrain leave the global state as found.

Building the demo model pretrains the demo CLIP when its cache is absent. Everything built after
the encoder (SIR head, appearance CNN, AIR) draws its initial weights from the global RNG, so the
provider must not move it: from the same seed, the model built while pretraining (empty cache)
and the model built from the cache must be bitwise equal.
"""
import json
import random
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config

from sair_toolbox.engine.setup import register_all_modules
from sair_toolbox.models.weights_providers.demo_clip_weights import DemoCLIPWeights
from sair_toolbox.utils.errors import ConfigError
from tests.tiny_sair import ROOT

#: The demo CLIP shrunk to 32 x 32 scenes, patch 8: a few seconds of pretraining.
TINY_CLIP = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8, head_width=16),
    text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2, layers=1),
)
RECIPE = dict(image_size=32, num_scenes=8, steps=3, batch_size=4, warmup=1, num_val=2)


def global_state():
    """Everything a provider must leave as found."""
    return dict(torch=torch.get_rng_state(), seed=torch.initial_seed(),
                numpy=np.random.get_state(), python=random.getstate(),
                threads=torch.get_num_threads(),
                deterministic=torch.are_deterministic_algorithms_enabled())


def assert_same_global_state(a, b):
    assert torch.equal(a['torch'], b['torch']) and a['seed'] == b['seed']
    assert a['numpy'][0] == b['numpy'][0] and np.array_equal(a['numpy'][1], b['numpy'][1])
    assert a['numpy'][2:] == b['numpy'][2:]
    assert a['python'] == b['python']
    assert a['threads'] == b['threads'] and a['deterministic'] == b['deterministic']


def demo_model_cfg(cache_dir):
    """The demo SAIR config's model, small, with the tiny demo CLIP recipe in ``cache_dir``."""
    cfg = Config.fromfile(f'{ROOT}/configs/sair/sair_demo.py').model.to_dict()
    cfg['sir']['encoder'].update(
        model_cfg=TINY_CLIP,
        pretrained=dict(type='DemoCLIPWeights', cache_dir=str(cache_dir), **RECIPE))
    cfg['sir']['head']['hidden_channels'] = (16, 16)
    cfg['air_head']['hidden_channels'] = (16, 16)
    cfg['appearance_encoder'].update(base_channels=8, num_res_blocks=1)
    return cfg


def build_state(model_cfg, seed=0):
    from sair_toolbox.registry import MODELS
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(model_cfg)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_model_built_while_pretraining_equals_the_model_built_from_the_cache(tmp_path):
    register_all_modules()
    cache = tmp_path / 'demo_clip'
    cfg = demo_model_cfg(cache)
    provider = DemoCLIPWeights(cache_dir=str(cache), **RECIPE)
    assert provider.check(TINY_CLIP) == 'absent'
    first = build_state(cfg)  # pretrains the demo CLIP on the way
    assert provider.check(TINY_CLIP) is None
    later = build_state(cfg)  # reads the cache
    assert first.keys() == later.keys()
    different = [k for k in first if not torch.equal(first[k], later[k])]
    assert not different, f'first run differs from a later one in {different[:5]}'
    # The parts after the encoder really come from the global RNG: another seed differs.
    other = build_state(cfg, seed=1)
    assert any(not torch.equal(other[k], first[k]) for k in first if k.startswith('air_head.'))


def test_resolve_leaves_the_global_state_as_found_and_meta_as_before(tmp_path):
    torch.manual_seed(123)
    np.random.seed(4)
    random.seed(5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # pretraining runs with the recipe's 2 threads
    cache = tmp_path / 'demo_clip'
    try:
        before = global_state()
        provider = DemoCLIPWeights(cache_dir=str(cache), **RECIPE)
        path = provider.resolve(model_cfg=TINY_CLIP)  # pretrains
        assert_same_global_state(before, global_state())
        assert provider.resolve(model_cfg=TINY_CLIP) == path  # from the cache
        assert_same_global_state(before, global_state())
    finally:
        torch.set_num_threads(threads)
    # meta.json as the former DemoCLIPWeights wrote it (its 13 arguments, spelled out), so an
    # existing cache with the same parameters stays current.
    meta = json.loads((cache / 'meta.json').read_text())
    assert meta['params'] == dict(image_size=32, num_scenes=8, steps=3, batch_size=4, lr=2e-3,
                                  weight_decay=0.05, warmup=1, seed=0, keep_last_residual=True,
                                  templates=None, num_threads=2, val_seed=0, num_val=2)
    assert meta['version'] == 1
    assert DemoCLIPWeights(cache_dir=str(cache), **dict(RECIPE, lr=0.002)).check(TINY_CLIP) \
        is None


def test_unknown_recipe_option_is_one_line():
    with pytest.raises(ConfigError, match=r"unknown options \['step'\]"):
        DemoCLIPWeights(cache_dir='x', step=3)


def test_demo_data_generation_draws_nothing_from_the_global_rngs(tmp_path):
    from sair_toolbox.datasets.demo_scenes import ensure_demo_data
    torch.manual_seed(7)
    before = global_state()
    assert ensure_demo_data(str(tmp_path / 'demo'), image_size=16, num_train=2, num_val=1)
    assert_same_global_state(before, global_state())


def test_short_training_from_an_empty_cache_equals_one_from_the_cache(tmp_path):
    """Issue 16's check: two runs of one command, the first pretraining the demo CLIP, end with
    bitwise equal weights (the demo config, tiny, 2 iterations)."""
    from mmengine.runner import Runner

    from tests.test_engine.tiny_run import (assert_same_state, model_state, release_workers,
                                            tiny_cfg)
    register_all_modules(init_default_scope=False)
    options = {
        'model.sir.encoder.model_cfg': TINY_CLIP,
        'model.sir.encoder.pretrained': dict(type='DemoCLIPWeights',
                                             cache_dir=str(tmp_path / 'demo_clip'), **RECIPE),
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 100,
    }
    states = []
    for run in ('first', 'later'):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            runner = Runner.from_cfg(tiny_cfg(tmp_path / run, **options))
            runner.train()
        release_workers(runner)
        states.append(model_state(runner))
    assert_same_state(*states)
