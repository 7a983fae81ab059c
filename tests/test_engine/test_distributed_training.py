"""Two processes (torchrun, gloo on CPU) through tools/dist_train.sh: ranks stay identical, and an
interrupted distributed run resumed with ``--resume`` ends exactly like a straight one."""
import json
import os.path as osp
import socket
import subprocess
import sys
import time

import pytest
import torch

from sair_toolbox.utils.checkpoint import load_checkpoint_safely
from tests.test_engine.tiny_run import REPO_ROOT, assert_same_state, dump_tiny_cfg, subprocess_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dist_train(config, work_dir, *args) -> float:
    env = subprocess_env()
    env['PORT'] = str(free_port())
    start = time.perf_counter()
    proc = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), str(config), '2',
         '--work-dir', str(work_dir), *args],
        cwd=str(work_dir.parent), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return time.perf_counter() - start


def rank_files(work_dir):
    return [torch.load(work_dir / f'rank{r}.pth', weights_only=True) for r in range(2)]


@pytest.fixture(scope='module')
def straight_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('dist')
    work_dir = tmp / 'straight'
    config = dump_tiny_cfg(tmp / 'straight.py', work_dir,
                           custom_hooks=[dict(type='DumpRankWeightsHook')])
    elapsed = dist_train(config, work_dir)
    print(f'dist_train.sh, 2 processes, 4 iterations: {elapsed:.1f} s')
    return work_dir, elapsed


def test_two_process_training_keeps_ranks_identical(straight_run):
    work_dir, elapsed = straight_run
    ranks = rank_files(work_dir)
    assert [(d['rank'], d['world_size'], d['iter']) for d in ranks] == [(0, 2, 4), (1, 2, 4)]
    assert_same_state(ranks[0]['state_dict'], ranks[1]['state_dict'])

    # Rank 0's checkpoint holds the same weights, and every rank's RNG state.
    ckpt = load_checkpoint_safely(str(work_dir / 'iter_4.pth'))
    assert_same_state(ckpt['state_dict'], ranks[0]['state_dict'])
    assert ckpt['rng_state']['world_size'] == 2
    assert len(ckpt['rng_state']['per_rank']) == 2
    # Training moved the weights away from the first checkpoint.
    first = load_checkpoint_safely(str(work_dir / 'iter_2.pth'))['state_dict']
    assert any(not torch.equal(first[k], v) for k, v in ckpt['state_dict'].items())
    assert elapsed < 60, f'{elapsed:.0f} s'


def test_two_process_training_draws_the_val_samples_once(straight_run):
    # InpaintVisualizationHook (default_runtime): only rank 0 draws and writes, every validation.
    work_dir, _ = straight_run
    images = sorted(p.name for p in work_dir.glob('*/vis_data/vis_image/*.png'))
    assert images == ['val_samples_2.png', 'val_samples_4.png']


def test_interrupted_distributed_run_resumes_exactly(straight_run, tmp_path):
    straight_dir, _ = straight_run
    work_dir = tmp_path / 'interrupted'
    hooks = [dict(type='DumpRankWeightsHook')]
    first = dump_tiny_cfg(tmp_path / 'first.py', work_dir,
                          custom_hooks=hooks + [dict(type='StopTrainingHook', stop_after=2)])
    again = dump_tiny_cfg(tmp_path / 'again.py', work_dir, custom_hooks=hooks)
    start = time.perf_counter()
    dist_train(first, work_dir)
    assert [d['iter'] for d in rank_files(work_dir)] == [2, 2]
    dist_train(again, work_dir, '--resume', str(work_dir / 'iter_2.pth'))
    elapsed = time.perf_counter() - start
    print(f'interrupted + resumed distributed runs: {elapsed:.1f} s')
    resumed, straight = rank_files(work_dir), rank_files(straight_dir)
    assert [d['iter'] for d in resumed] == [4, 4]
    for r in range(2):
        assert_same_state(straight[r]['state_dict'], resumed[r]['state_dict'])
    assert elapsed < 60, f'{elapsed:.0f} s'


def test_two_process_testing_matches_one_process(straight_run, tmp_path):
    work_dir, _ = straight_run
    config = dump_tiny_cfg(tmp_path / 'test_cfg.py', tmp_path / 'work')
    ckpt = str(work_dir / 'iter_4.pth')
    env = subprocess_env()
    env['PORT'] = str(free_port())
    dist = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_test.sh'), config, ckpt, '2',
         '--out', str(tmp_path / 'dist.json')],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert dist.returncode == 0, dist.stdout[-3000:] + dist.stderr[-3000:]
    single = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'test.py'), config, ckpt,
         '--out', str(tmp_path / 'single.json')],
        cwd=str(tmp_path), env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    dist_metrics = json.loads((tmp_path / 'dist.json').read_text())['metrics']
    single_metrics = json.loads((tmp_path / 'single.json').read_text())['metrics']
    assert dist_metrics.keys() == single_metrics.keys()
    for key, value in single_metrics.items():
        assert dist_metrics[key] == pytest.approx(value, rel=1e-6), key
