"""tools/train.py and tools/test.py as a user runs them: one-line errors, and a full round trip."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from sair_toolbox.utils.checkpoint import load_checkpoint_safely
from sair_toolbox.utils.errors import ConfigError
from tests.test_engine.tiny_run import (CONFIG, REPO_ROOT, dump_tiny_cfg, missing_data_options,
                                        subprocess_env)
from tests.test_tools import load_tool

TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')
TEST = osp.join(REPO_ROOT, 'tools', 'test.py')


def run(tool, *args, cwd=None):
    return subprocess.run([sys.executable, tool, *map(str, args)], cwd=cwd or REPO_ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)


def assert_one_line_error(proc, tool, *needles):
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f'{tool}: error: '), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_train_missing_config():
    proc = run(TRAIN, 'configs/does_not_exist.py')
    assert_one_line_error(proc, 'train.py', 'configs/does_not_exist.py', 'does not exist')


def test_test_missing_checkpoint(tmp_path):
    proc = run(TEST, CONFIG, tmp_path / 'missing.pth')
    assert_one_line_error(proc, 'test.py', f'{tmp_path}/missing.pth', 'does not exist')


def test_test_missing_config(tmp_path):
    proc = run(TEST, tmp_path / 'nope.py', tmp_path / 'missing.pth')
    assert_one_line_error(proc, 'test.py', 'nope.py')


def test_train_missing_data_root(tmp_path):
    missing = tmp_path / 'no_data_here'
    config = dump_tiny_cfg(tmp_path / 'cfg.py', tmp_path / 'work')
    options = [f'{k}={v}' for k, v in missing_data_options(missing).items()]
    proc = run(TRAIN, config, '--cfg-options', *options)
    assert_one_line_error(proc, 'train.py', str(missing))


def test_train_resume_missing_checkpoint(tmp_path):
    proc = run(TRAIN, CONFIG, '--work-dir', tmp_path, '--resume', tmp_path / 'gone.pth')
    assert_one_line_error(proc, 'train.py', 'gone.pth')


@pytest.mark.skipif(torch.cuda.is_available(), reason='AmpOptimWrapper runs where CUDA is')
def test_amp_without_cuda_is_bfloat16_autocast(tmp_path):
    train = load_tool('train')
    # The demo config trains at 'auto' already; its float32 variant is what --amp switches.
    assert train.build_train_cfg(train.parse_args([CONFIG])).optim_wrapper.type == \
        'AutocastOptimWrapper'
    cfg = train.build_train_cfg(train.parse_args(
        [CONFIG, '--amp', '--cfg-options', 'optim_wrapper.type=OptimWrapper']))
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    # A config that asks for MMEngine's float16 AmpOptimWrapper cannot run here: one line.
    config = dump_tiny_cfg(tmp_path / 'cfg.py', tmp_path / 'work',
                           **{'optim_wrapper.type': 'AmpOptimWrapper'})
    proc = run(TRAIN, config)
    assert_one_line_error(proc, 'train.py', 'AmpOptimWrapper', 'needs CUDA')


class Pickled:
    """Not on the weights-only allow-list."""


def test_test_refuses_checkpoint_with_arbitrary_object(tmp_path):
    bad = tmp_path / 'bad.pth'
    torch.save(dict(state_dict={}, meta={}, payload=Pickled()), bad)
    proc = run(TEST, dump_tiny_cfg(tmp_path / 'cfg.py', tmp_path / 'work'), bad)
    assert_one_line_error(proc, 'test.py', 'bad.pth', 'refused', 'Pickled')


def test_train_resume_then_test_round_trip(tmp_path):
    work_dir = tmp_path / 'work'
    config = dump_tiny_cfg(tmp_path / 'tiny.py', work_dir,
                           **{'train_cfg.max_iters': 2})
    proc = run(TRAIN, config, '--work-dir', work_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.isfile(work_dir / 'iter_2.pth')

    # Continue the finished run to 4 iterations with `--resume` (auto: latest in the work dir).
    proc = run(TRAIN, config, '--work-dir', work_dir, '--resume',
               '--cfg-options', 'train_cfg.max_iters=4')
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = load_checkpoint_safely(str(work_dir / 'iter_4.pth'))
    assert ckpt['meta']['iter'] == 4

    out = tmp_path / 'results' / 'metrics.json'
    out.parent.mkdir()
    proc = run(TEST, config, work_dir / 'iter_4.pth', '--work-dir', work_dir, '--out', out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'All' in proc.stdout and 'PSNR' in proc.stdout
    doc = json.loads(out.read_text())
    assert doc['checkpoint'].endswith('iter_4.pth') and doc['config'] == config
    assert doc['metrics']['all/count'] > 0
    assert osp.isfile(out.with_suffix('.csv'))


def test_train_options_shape_the_config(tmp_path):
    train = load_tool('train')
    cfg = train.build_train_cfg(train.parse_args([CONFIG]))
    stem = osp.splitext(osp.basename(CONFIG))[0]
    assert cfg.work_dir == f'./work_dirs/{stem}' and not cfg.resume and cfg.launcher == 'none'

    ckpt = tmp_path / 'iter_2.pth'
    torch.save(dict(state_dict={}), ckpt)  # a real (empty) checkpoint: the tools check it
    cfg = train.build_train_cfg(train.parse_args(
        [CONFIG, '--work-dir', str(tmp_path), '--resume', str(ckpt), '--seed', '7',
         '--auto-scale-lr', '--cfg-options', 'train_cfg.max_iters=3',
         'auto_scale_lr.base_batch_size=16']))
    assert (cfg.work_dir, cfg.resume, cfg.load_from) == (str(tmp_path), True, str(ckpt))
    assert cfg.randomness.seed == 7 and cfg.auto_scale_lr.enable is True
    assert cfg.train_cfg.max_iters == 3

    cfg = train.build_train_cfg(train.parse_args([CONFIG, '--resume']))
    assert cfg.resume is True and cfg.load_from is None  # auto: latest in the work dir

    with pytest.raises(ConfigError, match='auto_scale_lr.base_batch_size'):
        train.build_train_cfg(train.parse_args(
            [CONFIG, '--auto-scale-lr', '--cfg-options', 'auto_scale_lr=None']))


def test_test_options_shape_the_config(tmp_path):
    test = load_tool('test')
    ckpt = tmp_path / 'x.pth'
    torch.save(dict(state_dict={}), ckpt)  # a real (empty) checkpoint: the tools check it
    cfg = test.build_test_cfg(test.parse_args([CONFIG, str(ckpt), '--work-dir', str(tmp_path)]))
    assert (cfg.load_from, cfg.resume, cfg.work_dir) == (str(ckpt), False, str(tmp_path))


def test_test_precision_option(tmp_path):
    test = load_tool('test')
    ckpt = tmp_path / 'x.pth'
    torch.save(dict(state_dict={}, meta={}), ckpt)
    cfg = test.build_test_cfg(test.parse_args([CONFIG, str(ckpt)]))
    # auto by default: the loop resolves it from the model's device (and logs why).
    assert (cfg.test_cfg.type, cfg.test_cfg.precision) == ('PrecisionTestLoop', 'auto')
    cfg = test.build_test_cfg(test.parse_args([CONFIG, str(ckpt), '--precision', 'fp32']))
    assert cfg.test_cfg.type == 'TestLoop'  # fp32: the config's own loop
    cfg = test.build_test_cfg(test.parse_args([CONFIG, str(ckpt), '--precision', 'BF16']))
    assert (cfg.test_cfg.type, cfg.test_cfg.precision) == ('PrecisionTestLoop', 'bf16')
    proc = run(TEST, CONFIG, ckpt, '--precision', 'int8')
    assert proc.returncode == 2 and 'invalid choice' in proc.stderr


GAN_CONFIG = osp.join(REPO_ROOT, 'configs', 'sair', 'ablations', 'sair-gan_demo.py')


def test_train_precision_option_sets_the_wrapper_dtype():
    train = load_tool('train')

    def wrapper(*argv, config=CONFIG):
        return train.build_train_cfg(train.parse_args([config, *argv])).optim_wrapper

    # Every config: AutocastOptimWrapper with its default dtype, auto.
    default = wrapper()
    assert default.type == 'AutocastOptimWrapper' and 'dtype' not in default
    for flag, dtype in [('auto', 'auto'), ('fp32', 'float32'), ('BF16', 'bfloat16')]:
        got = wrapper('--precision', flag)
        assert (got.type, got.dtype) == ('AutocastOptimWrapper', dtype), flag
    if torch.cuda.is_available():
        assert wrapper('--precision', 'fp16').dtype == 'float16'
    else:  # float16 trains with loss scaling, on CUDA only: one line before anything is built
        with pytest.raises(ConfigError, match='--precision fp16 needs CUDA'):
            wrapper('--precision', 'fp16')
    # A plain OptimWrapper: fp32 leaves it, a mixed precision switches it.
    plain = ('--cfg-options', 'optim_wrapper.type=OptimWrapper')
    assert wrapper('--precision', 'fp32', *plain).type == 'OptimWrapper'
    got = wrapper('--precision', 'bf16', *plain)
    assert (got.type, got.dtype) == ('AutocastOptimWrapper', 'bfloat16')
    # --amp is an alias of forcing mixed precision; it contradicts fp32.
    if not torch.cuda.is_available():
        assert wrapper('--amp').dtype == 'bfloat16'
    with pytest.raises(ConfigError, match='--amp .* contradicts --precision fp32'):
        wrapper('--amp', '--precision', 'fp32')
    # The GAN's two wrappers both follow (top-level keys are their defaults).
    gan = wrapper('--precision', 'fp32', config=GAN_CONFIG)
    assert (gan.generator.dtype, gan.discriminator.dtype) == ('float32', 'float32')
    assert 'dtype' not in gan
    gan = wrapper('--precision', 'bf16', config=GAN_CONFIG)
    assert (gan.generator.dtype, gan.discriminator.dtype) == ('bfloat16', 'bfloat16')
    with pytest.raises(SystemExit):
        train.parse_args([CONFIG, '--precision', 'int8'])


def test_train_logs_the_precision_choice_once(tmp_path):
    config = dump_tiny_cfg(tmp_path / 'tiny.py', tmp_path / 'work',
                           **{'train_cfg.max_iters': 1, 'log_level': 'INFO'})
    proc = run(TRAIN, config, '--work-dir', tmp_path / 'work')
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in (proc.stdout + proc.stderr).splitlines()
             if 'precision auto -> ' in line]
    from sair_toolbox.utils.precision import precision_message, resolve_precision
    assert len(lines) == 1, lines
    assert lines[0].endswith(precision_message('auto', *resolve_precision('auto', 'cpu')))
