"""tools/test.py with the GAN configs' DistributionMetric: FID-family columns per bin when the
Inception weights are given, one line naming the file when they are not."""
import subprocess
import sys

import pytest
import torch

from tests.test_engine.tiny_run import REPO_ROOT, subprocess_env
from tests.test_models.gan_tiny import gan_cfg

pytest.importorskip('torch_fidelity')


def _tiny_gan_files(tmp_path, weights_path, layer='2048'):
    import warnings

    from sair_toolbox.engine.setup import register_all_modules
    from sair_toolbox.registry import MODELS
    register_all_modules()
    inception = dict(type='DistributionMetric', log_table=False,
                     feature_net=dict(type='InceptionV3', weights_path=str(weights_path),
                                      feature_layer=layer))
    cfg = gan_cfg(tmp_path / 'work', **{'test_evaluator': [
        dict(type='InpaintingMetric', lpips=None), inception]})
    cfg.pop('experiment_name')
    config = tmp_path / 'gan_tiny.py'
    cfg.dump(str(config))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(cfg.model)
    ckpt = tmp_path / 'gan.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    return config, ckpt


def _test_tool(*args):
    return subprocess.run([sys.executable, f'{REPO_ROOT}/tools/test.py', *map(str, args)],
                          cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True,
                          timeout=300)


def test_missing_inception_weights_is_one_line(tmp_path):
    config, ckpt = _tiny_gan_files(tmp_path, tmp_path / 'nowhere')
    proc = _test_tool(config, ckpt)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert 'weights-inception-2015-12-05-6726825d.pth' in lines[0] and 'put the file at' in lines[0]


def test_fid_columns_per_bin_with_weights(tmp_path):
    from tests.random_inception import save_random_inception
    weights = save_random_inception(tmp_path)
    config, ckpt = _tiny_gan_files(tmp_path, weights, layer='64')  # a cheap Inception forward
    proc = _test_tool(config, ckpt, '--out', tmp_path / 'res.json')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'FID↓' in proc.stdout and 'KID↓' in proc.stdout and 'P-IDS↑' in proc.stdout
    import json
    metrics = json.load(open(tmp_path / 'res.json'))['metrics']
    assert {'all/FID', 'all/KID', 'all/P-IDS', 'all/U-IDS', 'all/PSNR'} <= set(metrics)
