"""The cheap documented commands, run for real as a user types them: every tool's ``--help``,
the front page's main job for two iterations (made tiny by ``--cfg-options``, as the engine
tests make it), and the front page's mask-drawing and inpaint commands on a demo image with
that checkpoint."""
import glob
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.test_docs.commands import ROOT, all_commands
from tests.test_engine.tiny_run import DEMO_DATA_ROOT, subprocess_env, tiny_options

MAIN_JOB = ['python', 'tools/train.py', 'configs/sair/sair_demo.py']

# One interpreter runs every tool as a script (``runpy``, ``__name__ == '__main__'``) with
# ``--help``: the same code path as ``python tools/X.py --help``, with one torch import.
HELP_SCRIPT = r'''
import runpy, sys
for tool in sys.argv[1:]:
    sys.argv = [tool, '--help']
    try:
        runpy.run_path(tool, run_name='__main__')
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    else:
        raise SystemExit(f'{tool} --help did not exit')
    print(f'HELP-OK {tool}', flush=True)
'''


def _run(argv, cwd=ROOT, timeout=600):
    return subprocess.run(argv, cwd=cwd, env=subprocess_env(), capture_output=True, text=True,
                          timeout=timeout)


def _documented(prefix, source='README.md'):
    """The words of the first command of ``source`` that starts with ``prefix``."""
    for command in all_commands():
        if command.source.split(':')[0] == source and ' '.join(command.words).startswith(prefix):
            return list(command.words)
    pytest.fail(f'{source} has no command starting with {prefix!r}')


def _option(value) -> str:
    """A ``--cfg-options`` value as MMEngine's DictAction reads it back."""
    if isinstance(value, (list, tuple)):
        inner = ','.join(_option(v) for v in value)
        return f'({inner})' if isinstance(value, tuple) else f'[{inner}]'
    return str(value)


def test_every_tool_help():
    tools = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'tools', '*.py')))
    proc = _run([sys.executable, '-c', HELP_SCRIPT, *tools], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for tool in tools:
        assert f'HELP-OK {tool}' in proc.stdout, tool
    assert proc.stdout.count('usage:') == len(tools)


@pytest.fixture(scope='module')
def main_job(tmp_path_factory):
    """The README's main job, word for word, then the options that make it two tiny
    iterations (a validation and a checkpoint at iteration 2)."""
    words = _documented('python tools/train.py')
    assert words == MAIN_JOB, words
    work_dir = tmp_path_factory.mktemp('docs_main_job') / 'work'
    options = tiny_options(**{'train_cfg.max_iters': 2})
    argv = [sys.executable] + words[1:] + [
        '--work-dir', str(work_dir),
        '--cfg-options', *[f'{key}={_option(value)}' for key, value in options.items()]]
    proc = _run(argv)
    return proc, work_dir


def test_main_job_trains(main_job):
    proc, work_dir = main_job
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.isfile(work_dir / 'iter_2.pth')
    assert osp.isfile(work_dir / 'sair_demo.py')  # the merged config the Runner dumps


def test_inpaint_a_demo_image(main_job, tmp_path):
    proc, work_dir = main_job
    if proc.returncode != 0:
        pytest.skip('the main job failed (test_main_job_trains says why)')
    words = _documented('python tools/inpaint.py')
    assert words[:2] == ['python', 'tools/inpaint.py']
    image = sorted(glob.glob(osp.join(DEMO_DATA_ROOT, 'val', 'images', '*.png')))[0]
    width, height = Image.open(image).size
    # The documented commands in a folder with the user's photo: first the one that draws the
    # mask, then the inpaint.
    os.symlink(image, tmp_path / 'photo.png')
    draw = _documented('python -c')
    proc = _run([sys.executable, *draw[1:]], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    hole = np.asarray(Image.open(tmp_path / 'hole.png')) > 127
    assert hole.shape == (height, width) and 0 < hole.mean() < 1
    argv = [sys.executable, osp.join(ROOT, words[1]), *words[2:], '--config',
            str(work_dir / 'sair_demo.py'), '--checkpoint', str(work_dir / 'iter_2.pth')]
    proc = _run(argv, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = words[words.index('--out') + 1]
    scale = int(words[words.index('--scale') + 1]) if '--scale' in words else 1
    assert Image.open(tmp_path / out).size == (width * scale, height * scale)
