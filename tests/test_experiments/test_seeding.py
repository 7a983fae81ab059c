"""Seeds of the miniature tables: one number -> model, data and mask seeds, the same per row."""
import os

import pytest
from mmengine.config import Config

from sair_toolbox.experiments.seeding import (LOADERS, RunSeeds, apply_seeds, check_seeds,
                                              run_seeds, seed_options, seed_work_dir)
from sair_toolbox.utils.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, 'configs', 'sair', 'sair_demo.py')


def _loaders(cfg):
    return [name for name in LOADERS if cfg.get(name)]


def _seeds_of(cfg):
    return (cfg.randomness.seed,
            [(cfg[name].dataset.data_seed, cfg[name].dataset.mask_seed) for name in _loaders(cfg)])


def test_seed_zero_is_the_configs_own_run():
    """Table seed 0 changes nothing in the demo config: the one-seed run is its seed 0."""
    cfg = Config.fromfile(DEMO)
    before = _seeds_of(cfg)
    apply_seeds(cfg, run_seeds(0))
    assert _seeds_of(cfg) == before == (0, [(0, 0)] * 3)
    assert cfg.randomness.deterministic is False  # other randomness keys are kept


def test_run_seeds_and_validation():
    assert run_seeds(3) == RunSeeds(seed=3, model=3, data=3, mask=3)
    for bad in (-1, 2**31, 1.5, True, '1'):
        with pytest.raises(ConfigError):
            run_seeds(bad)
    assert check_seeds((2, 0, 1)) == [2, 0, 1]
    with pytest.raises(ConfigError, match='repeated'):
        check_seeds([0, 1, 0])
    with pytest.raises(ConfigError, match='at least one'):
        check_seeds([])


@pytest.mark.parametrize('config', ['sair_demo.py', 'ablations/liif_demo.py',
                                    'ablations/sair-2stage_demo.py',
                                    'ablations/sir-pretrain_demo.py'])
def test_every_row_gets_the_same_seeds(config):
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', 'sair', config))
    apply_seeds(cfg, run_seeds(7))
    assert _seeds_of(cfg) == (7, [(7, 7)] * len(_loaders(cfg)))
    assert _loaders(cfg)[0] == 'train_dataloader'
    # The same through merge_from_dict, naming the loaders the config has.
    other = Config.fromfile(os.path.join(ROOT, 'configs', 'sair', config))
    other.merge_from_dict(seed_options(7, _loaders(other)))
    assert _seeds_of(other) == _seeds_of(cfg)
    # The scene-generation seed (the val images) is left alone.
    assert all(cfg[name].dataset.get('seed', 0) == 0 for name in _loaders(cfg))


def test_apply_seeds_handles_wrappers_and_absent_loaders():
    cfg = Config(dict(
        randomness=dict(seed=0, deterministic=True),
        train_dataloader=dict(dataset=dict(type='RepeatDataset', times=2, dataset=dict(
            type='ConcatDataset', datasets=[dict(type='A'), dict(type='B')]))),
        val_dataloader=None,
        test_dataloader=dict(dataset=dict(type='C'))))
    apply_seeds(cfg, run_seeds(5))
    parts = cfg.train_dataloader.dataset.dataset.datasets
    assert [(p.data_seed, p.mask_seed) for p in parts] == [(5, 5), (5, 5)]
    assert cfg.test_dataloader.dataset.mask_seed == 5
    assert cfg.randomness == dict(seed=5, deterministic=True)
    with pytest.raises(ConfigError, match='no dataset'):
        apply_seeds(Config(dict(train_dataloader=dict(batch_size=2))), run_seeds(1))


def test_seed_options_keys():
    assert seed_options(2, ['train_dataloader']) == {
        'randomness.seed': 2, 'train_dataloader.dataset.data_seed': 2,
        'train_dataloader.dataset.mask_seed': 2}
    assert len(seed_options(2)) == 1 + 2 * len(LOADERS)


def test_seed_work_dir():
    assert seed_work_dir('work_dirs/demo_tables', 'sair_demo', 2) == \
        os.path.join('work_dirs/demo_tables', 'seed2', 'sair_demo')
