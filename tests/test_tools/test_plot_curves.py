"""tools/plot_curves.py as a user runs it: several runs on one image, one-line errors."""
import json
import os
import os.path as osp
import subprocess
import sys

from PIL import Image

from tests.test_engine.tiny_run import REPO_ROOT, subprocess_env

TOOL = osp.join(REPO_ROOT, 'tools', 'plot_curves.py')


def _run(*args):
    return subprocess.run([sys.executable, TOOL, *map(str, args)], cwd=REPO_ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)


def _fake_run(work_dir, psnr):
    folder = osp.join(work_dir, '20260101_000000', 'vis_data')
    os.makedirs(folder)
    with open(osp.join(folder, 'scalars.json'), 'w') as f:
        for step in range(1, 5):
            f.write(json.dumps({'loss': 1.0 / step, 'iter': step, 'step': step}) + '\n')
        f.write(json.dumps({'all/PSNR': psnr, 'step': 4}) + '\n')


def test_plots_two_runs(tmp_path):
    _fake_run(tmp_path / 'liif_demo', 20.0)
    _fake_run(tmp_path / 'sair_demo', 21.0)
    out = tmp_path / 'fig.png'
    proc = _run(tmp_path / 'liif_demo', tmp_path / 'sair_demo', '--out', out, '--smooth', '2')
    assert proc.returncode == 0, proc.stderr
    assert f'curves of 2 run(s) written to {out}' in proc.stdout
    with Image.open(out) as image:
        assert image.width > 500


def test_one_line_errors(tmp_path):
    proc = _run(tmp_path / 'missing')
    assert proc.returncode == 2
    assert proc.stderr.strip() == f'plot_curves.py: error: work dir {tmp_path}/missing does not exist'
    _fake_run(tmp_path / 'run', 20.0)
    proc = _run(tmp_path / 'run', '--keys', 'all/SSIM', '--out', tmp_path / 'x.png')
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no run logged 'all/SSIM'; logged keys: all/PSNR, loss" in lines[0]
