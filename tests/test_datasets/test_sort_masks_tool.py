"""tools/sort_masks.py through its command line."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'sort_masks.py'


def _run(*args):
    """The tool in a subprocess (the real command line)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.fixture
def run_inproc(capsys, monkeypatch):
    """The tool's main() in this process (fast); returns returncode/stdout/stderr."""
    spec = importlib.util.spec_from_file_location('sort_masks_tool', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(sys, 'argv', [str(TOOL)])

    def run(*args):
        try:
            code = tool.main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)
    return run


def _mask(path, hole_rows, size=(512, 512), white_hole=True):
    img = np.zeros(size, np.uint8)
    img[:hole_rows] = 255
    if not white_hole:
        img = 255 - img
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def test_sort_masks_cli(tmp_path, run_inproc):
    masks = tmp_path / 'masks'
    _mask(masks / 'small.png', 51)  # 10%
    _mask(masks / 'nested' / 'mid.png', 154)  # 30%
    _mask(masks / 'large.png', 256)  # 50%
    _mask(masks / 'huge.png', 400)  # 78%: outside every bin
    _mask(masks / 'edge.png', 103)  # 20.1% at 512x512 but 51/256 rows = 19.9% at 256x256
    (masks / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\nthis is not a png')
    out = tmp_path / 'lists'
    proc = _run(masks, out, '--size', 256)
    assert proc.returncode == 1, proc.stderr  # an unreadable file -> status 1, lists written
    assert 'broken.png' in proc.stderr
    read = {n: (out / f'{n}.txt').read_text().split() for n in ('0-20', '20-40', '40-60')}
    # binned by the ratio at the evaluation size, after the nearest resize
    assert read['0-20'] == ['edge.png', 'small.png']
    assert read['20-40'] == ['nested/mid.png']
    assert read['40-60'] == ['large.png']
    assert (out / 'out_of_bins.txt').read_text().split()[0] == 'huge.png'
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['bins'] == {'0-20': 2, '20-40': 1, '40-60': 1}
    assert summary['out_of_bins'] == 1 and summary['unreadable'] == ['broken.png']
    assert summary['total'] == 6
    proc = run_inproc(masks, tmp_path / 'at512', '--size', 512)
    assert (tmp_path / 'at512' / '20-40.txt').read_text().split() == ['edge.png',
                                                                       'nested/mid.png']


def test_sort_masks_polarity_and_clean_exit(tmp_path, run_inproc):
    masks = tmp_path / 'inv'
    _mask(masks / 'a.png', 19, size=(64, 64), white_hole=False)  # black hole, 19/64 = 29.7%
    proc = run_inproc(masks, tmp_path / 'o1', '--size', 64, '--polarity', 'black_is_hole')
    assert proc.returncode == 0, proc.stderr
    assert '20-40%: 1' in proc.stdout
    assert (tmp_path / 'o1' / '20-40.txt').read_text().split() == ['a.png']
    proc = run_inproc(masks, tmp_path / 'o2', '--size', 64)  # white_is_hole: the 70% is the hole
    assert proc.returncode == 0
    assert (tmp_path / 'o2' / 'out_of_bins.txt').read_text().split() == ['a.png', '0.703125']


def test_sort_masks_missing_dir_is_one_line_error(tmp_path, run_inproc):
    proc = run_inproc(tmp_path / 'nowhere', tmp_path / 'out')
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'nowhere' in lines[0] and lines[0].startswith('sort_masks.py: error')
