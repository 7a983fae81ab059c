"""The README's Python example runs as written (paths swapped for a tiny model and image)."""
import os.path as osp
import re
import warnings

import numpy as np
from PIL import Image

from tests.tiny_sair import ROOT, save_tiny_sair

DEMO_CONFIG = 'configs/sair/sair_demo.py'
DEMO_CKPT = 'work_dirs/sair_demo/iter_600.pth'
DEMO_IMAGE = 'data/demo/val/images/00000.png'


def _example() -> str:
    readme = open(osp.join(ROOT, 'README.md')).read()
    section = readme.split('## Your own images', 1)[1]
    return re.search(r'```python\n(.*?)```', section, re.S).group(1)


def test_readme_python_example(tmp_path, monkeypatch):
    code = _example()
    assert len(code.strip().splitlines()) <= 5
    for path in (DEMO_CONFIG, DEMO_CKPT, DEMO_IMAGE):
        assert repr(path) in code, path  # the example names the demo run's files
    config, ckpt = save_tiny_sair(tmp_path)
    image = tmp_path / 'demo.png'
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)).save(image)
    for old, new in ((DEMO_CONFIG, config), (DEMO_CKPT, ckpt), (DEMO_IMAGE, str(image))):
        code = code.replace(repr(old), repr(new))
    monkeypatch.chdir(tmp_path)
    scope = {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        exec(compile(code, 'README.md', 'exec'), scope)
    assert Image.open(tmp_path / 'filled.png').size == (128, 128)
    assert scope['result'].colors_sir.shape == (64, 64, 3)
