import random
from unittest.mock import MagicMock

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from sair_toolbox.engine.hooks import RNGStateHook, get_rng_state, set_rng_state
from sair_toolbox.registry import HOOKS
from sair_toolbox.engine.setup import register_all_modules
from tests.test_engine.tiny_run import REPO_ROOT, assert_same_state, model_state

TOY_CONFIG = f'{REPO_ROOT}/tests/test_engine/configs/toy_inpaint.py'


def draws():
    """One value from each global RNG (torch, numpy, python, and numpy's cached gaussian)."""
    return (torch.rand(3).tolist(), np.random.rand(2).tolist(), random.random(),
            np.random.randn(), random.gauss(0, 1))


def test_state_round_trip_restores_every_rng():
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    random.gauss(0, 1)  # and in Python's
    state = get_rng_state()
    expected = draws()
    draws()
    set_rng_state(state)
    assert draws() == expected


def test_state_is_weights_only_safe(tmp_path):
    path = tmp_path / 'rng.pth'
    torch.save(dict(rng_state=get_rng_state()), path)
    # No global at all beyond plain tensors/containers: loads without any allow-list entry.
    assert torch.serialization.get_unsafe_globals_in_checkpoint(str(path)) == []
    state = torch.load(path, weights_only=True)['rng_state']
    assert state['torch'].dtype == torch.uint8
    assert state['numpy']['keys'].shape == (624,)
    assert len(state['python'][1]) == 625


def _run(work_dir, rng_hook: bool, resume: bool = False, stop_after=None, val=True):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(TOY_CONFIG)
    if not val:
        cfg.train_cfg.val_interval = 1000
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'rng_{work_dir.name}_{int(resume)}_{id(cfg)}'
    cfg.custom_hooks = [dict(type='RNGStateHook')] if rng_hook else []
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    if stop_after is not None:
        class Stop(Hook):
            priority = 'LOWEST'

            def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
                if runner.iter + 1 >= stop_after:
                    runner.train_loop.stop_training = True
        runner.register_hook(Stop())
    runner.train()
    return runner


def test_hook_is_what_makes_resume_exact(tmp_path):
    """The toy model draws from torch, numpy and random; without the hook resume diverges."""
    # The hook draws no random numbers itself: without validation (which it isolates, see
    # below) a straight run is unchanged by it.
    assert_same_state(model_state(_run(tmp_path / 'a', rng_hook=True, val=False)),
                      model_state(_run(tmp_path / 'b', rng_hook=False, val=False)))

    straight = model_state(_run(tmp_path / 's', rng_hook=True))

    _run(tmp_path / 'c', rng_hook=False, stop_after=2)
    without = model_state(_run(tmp_path / 'c', rng_hook=False, resume=True))
    assert any(not torch.equal(straight[k], without[k]) for k in straight)

    _run(tmp_path / 'd', rng_hook=True, stop_after=2)
    with_hook = model_state(_run(tmp_path / 'd', rng_hook=True, resume=True))
    assert_same_state(straight, with_hook)

    ckpt = torch.load(tmp_path / 'd' / 'iter_2.pth', weights_only=True)
    assert ckpt['rng_state']['world_size'] == 1
    assert len(ckpt['rng_state']['per_rank']) == 1


def _fake_runner(iter_=0, epoch=0):
    runner = MagicMock()
    runner.iter, runner.epoch, runner.hooks = iter_, epoch, []
    return runner


def test_load_from_without_resume_keeps_fresh_randomness():
    hook = HOOKS.build(dict(type='RNGStateHook'))
    assert isinstance(hook, RNGStateHook)
    torch.manual_seed(3)
    ckpt = {}
    hook.before_save_checkpoint(_fake_runner(), ckpt)
    torch.manual_seed(4)
    expected = torch.rand(2)
    torch.manual_seed(4)
    hook.after_load_checkpoint(_fake_runner(), ckpt)
    hook.before_train(_fake_runner(iter_=0))  # load_from: training starts at iteration 0
    assert torch.equal(torch.rand(2), expected)


def test_resume_restores_saved_state_after_reseeding():
    hook = RNGStateHook()
    torch.manual_seed(3)
    ckpt = {}
    hook.before_save_checkpoint(_fake_runner(iter_=5), ckpt)
    expected = torch.rand(2)
    torch.manual_seed(4)  # Runner.resume may re-seed after loading
    hook.after_load_checkpoint(_fake_runner(), ckpt)
    hook.before_train(_fake_runner(iter_=6))
    assert torch.equal(torch.rand(2), expected)


def test_validation_does_not_shift_training_randomness():
    hook = RNGStateHook()
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    hook.before_val(_fake_runner())
    torch.rand(10)  # e.g. a DataLoader drawing its base seed
    ckpt = {}
    hook.before_save_checkpoint(_fake_runner(), ckpt)  # a best-checkpoint save during val
    hook.after_val(_fake_runner())
    assert torch.equal(torch.rand(2), expected)
    torch.set_rng_state(ckpt['rng_state']['per_rank'][0]['torch'])
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.parametrize('saved,world', [(3, 2)])
def test_mismatched_world_size_is_not_restored(saved, world, monkeypatch):
    import sair_toolbox.engine.hooks.rng_state_hook as mod
    monkeypatch.setattr(mod, 'get_dist_info', lambda: (0, world))
    hook = RNGStateHook()
    torch.manual_seed(0)
    state = get_rng_state()
    hook.after_load_checkpoint(_fake_runner(), dict(
        rng_state=dict(world_size=saved, per_rank=[state] * saved)))
    torch.manual_seed(1)
    expected = torch.rand(2)
    torch.manual_seed(1)
    runner = _fake_runner(iter_=4)
    hook.before_train(runner)
    assert torch.equal(torch.rand(2), expected)
    assert runner.logger.warning.called
