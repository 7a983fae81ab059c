"""Exact resumption: an interrupted run resumed to the end equals a straight run, bit for bit."""
import os.path as osp
import time

from mmengine.hooks import Hook
from mmengine.runner import Runner

from sair_toolbox.engine.setup import register_all_modules
from tests.test_engine.tiny_run import (assert_same_state, model_state, release_workers,
                                        tiny_cfg)


class StopAfterHook(Hook):
    """Stops training after ``n`` iterations, like a job killed right after a checkpoint."""

    priority = 'LOWEST'

    def __init__(self, n: int) -> None:
        self.n = n

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 >= self.n:
            runner.train_loop.stop_training = True


def train(cfg, stop_after=None) -> Runner:
    register_all_modules(init_default_scope=False)
    runner = Runner.from_cfg(cfg)
    if stop_after is not None:
        runner.register_hook(StopAfterHook(stop_after))
    runner.train()
    release_workers(runner)
    return runner


def test_interrupted_and_resumed_run_equals_straight_run(tmp_path):
    start = time.perf_counter()
    straight = train(tiny_cfg(tmp_path / 'straight'))
    assert straight.iter == 4

    work_dir = tmp_path / 'interrupted'
    first = train(tiny_cfg(work_dir), stop_after=2)
    assert first.iter == 2
    assert osp.isfile(work_dir / 'iter_2.pth') and not osp.exists(work_dir / 'iter_4.pth')
    # Different weights after 2 of 4 iterations: the comparison below is not vacuous.
    assert any(not (a == b).all() for a, b in zip(model_state(first).values(),
                                                   model_state(straight).values()))

    # `resume=True` without `load_from`: the latest checkpoint of the work dir (`--resume auto`).
    resumed = train(tiny_cfg(work_dir, resume=True))
    assert resumed.iter == 4
    assert_same_state(model_state(straight), model_state(resumed))
    assert time.perf_counter() - start < 60
