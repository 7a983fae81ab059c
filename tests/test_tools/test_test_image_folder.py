"""tools/test.py on a folder of images and a folder of masks: the per-bin table, and identical
numbers on a second run and on a 2-process run."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.test_engine.test_distributed_training import free_port
from tests.test_engine.tiny_run import REPO_ROOT, dump_tiny_cfg, subprocess_env

TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')
TEST = osp.join(REPO_ROOT, 'tools', 'test.py')


def run(*args, cwd):
    return subprocess.run([sys.executable, *map(str, args)], cwd=str(cwd), env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('folder_eval')
    config = dump_tiny_cfg(tmp / 'tiny.py', tmp / 'work', **{'train_cfg.max_iters': 2})
    proc = run(TRAIN, config, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, config, str(tmp / 'work' / 'iter_2.pth')


def _folders(tmp):
    """Five photos of different sizes and modes, and masks of three ratio bins."""
    imgs, masks = tmp / 'imgs', tmp / 'masks'
    imgs.mkdir(exist_ok=True)
    masks.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(40, 48), (48, 40), (32, 32), (64, 50), (36, 36)]):
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        img = Image.fromarray(rgb)
        img = img.convert(['RGB', 'RGBA', 'L', 'P', 'RGB'][i])
        img.save(imgs / f'photo_{i}.png')
        mask = np.zeros((h, w), np.uint8)
        frac = [0.1, 0.3, 0.5, 0.15, 0.35][i]
        mask[:int(h * frac)] = 255  # white = hole
        Image.fromarray(mask).save(masks / f'photo_{i}.png')
    return imgs, masks


def _metrics(path):
    return json.loads(path.read_text())['metrics']


def test_folder_table_is_reproducible_across_runs_and_processes(trained):
    tmp, config, ckpt = trained
    imgs, masks = _folders(tmp)
    args = ['--img-dir', imgs, '--mask-dir', masks, '--img-size', 32]
    first = run(TEST, config, ckpt, *args, '--out', tmp / 'a.json', cwd=tmp)
    assert first.returncode == 0, first.stderr[-3000:]
    for header in ('0%-20%', '20%-40%', '40%-60%', 'All', 'PSNR', 'SSIM', 'L1'):
        assert header in first.stdout
    a = _metrics(tmp / 'a.json')
    assert a['all/count'] == 5 and a['0-20/count'] == 2 and a['40-60/count'] == 1
    second = run(TEST, config, ckpt, *args, '--out', tmp / 'b.json', cwd=tmp)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _metrics(tmp / 'b.json') == a

    env = subprocess_env()
    env['PORT'] = str(free_port())
    dist = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_test.sh'), config, ckpt, '2', *map(str, args),
         '--out', str(tmp / 'c.json')],
        cwd=str(tmp), env=env, capture_output=True, text=True, timeout=300)
    assert dist.returncode == 0, dist.stdout[-3000:] + dist.stderr[-3000:]
    c = _metrics(tmp / 'c.json')
    assert c.keys() == a.keys()
    for key, value in a.items():
        assert c[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_folder_without_masks_uses_fixed_procedural_masks(trained):
    tmp, config, ckpt = trained
    imgs, _ = _folders(tmp)
    outs = []
    for name in ('p.json', 'q.json'):
        proc = run(TEST, config, ckpt, '--img-dir', imgs, '--img-size', 32,
                   '--out', tmp / name, cwd=tmp)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append(_metrics(tmp / name))
    assert outs[0] == outs[1]
    # Image i gets a mask of bin i % 3.
    assert (outs[0]['0-20/count'], outs[0]['20-40/count'], outs[0]['40-60/count']) == (2, 2, 1)


def test_missing_image_folder_is_one_line(trained):
    tmp, config, ckpt = trained
    proc = run(TEST, config, ckpt, '--img-dir', tmp / 'nope', cwd=tmp)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'nope is not a folder' in lines[0]


def test_tiny_image_is_one_line(trained):
    tmp, config, ckpt = trained
    folder = tmp / 'dot'
    folder.mkdir(exist_ok=True)
    Image.new('RGB', (1, 1)).save(folder / 'dot.png')
    proc = run(TEST, config, ckpt, '--img-dir', folder, cwd=tmp)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f'test.py: error: image {folder}/dot.png is 1x1 pixels; at '
                                   'least 8x8 are needed')
    proc = run(TEST, config, ckpt, '--img-dir', folder, '--img-size', 4, cwd=tmp)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith('--img-size 4 is too small: the model and SSIM need at '
                                        'least 8')


def test_table_is_printed_once(trained):
    # At log level INFO the metric's own logged table would repeat the one test.py prints.
    tmp, config, ckpt = trained
    imgs, _ = _folders(tmp)
    proc = run(TEST, config, ckpt, '--img-dir', imgs, '--img-size', 32, '--cfg-options',
               'log_level=INFO', cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (proc.stdout + proc.stderr).count('masked input |') == 1
