"""tools/inpaint.py on users' own files: any image mode, any output size, clear errors."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from sair_toolbox.registry import MODELS
from tests.test_configs.shrink import shrink
from tests.test_tools import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A tiny SAIR config file and a checkpoint of it."""
    tmp = tmp_path_factory.mktemp('inpaint')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sair', 'sair_demo.py'))
    model_cfg = shrink(cfg.model.to_dict())
    config = tmp / 'tiny.py'
    config.write_text(f'model = {model_cfg!r}\n')
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        model = MODELS.build(model_cfg)
    ckpt = tmp / 'tiny.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    return str(config), str(ckpt)


def _images(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)
    paths = {}
    paths['rgba'] = tmp_path / 'rgba.png'
    Image.fromarray(np.dstack([rgb, np.full((20, 28), 255, np.uint8)])).save(paths['rgba'])
    paths['gray16'] = tmp_path / 'gray16.png'
    Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).save(paths['gray16'])
    paths['palette'] = tmp_path / 'palette.png'
    Image.fromarray(rgb).convert('P').save(paths['palette'])
    mask = np.zeros((20, 28), np.uint8)
    mask[5:12, 8:20] = 255
    mask_path = tmp_path / 'mask.png'
    Image.fromarray(mask).save(mask_path)
    return paths, mask_path, mask > 0


@pytest.mark.parametrize('kind', ['rgba', 'gray16', 'palette'])
def test_fills_hole_and_keeps_known_pixels(tmp_path, trained, kind):
    tool = load_tool('inpaint')
    config, ckpt = trained
    paths, mask_path, hole = _images(tmp_path)
    out = tmp_path / f'{kind}_out.png'
    tool.main(['--config', config, '--checkpoint', ckpt, '--img', str(paths[kind]),
               '--mask', str(mask_path), '--out', str(out), '--device', 'cpu'])
    result = np.asarray(Image.open(out))
    assert result.shape == (20, 28, 3)
    from sair_toolbox.datasets.image_io import load_image
    original = load_image(paths[kind])
    assert np.array_equal(result[~hole], original[~hole])


def test_any_output_resolution_and_folders(tmp_path, trained):
    tool = load_tool('inpaint')
    config, ckpt = trained
    paths, mask_path, _ = _images(tmp_path)
    img_dir, mask_dir = tmp_path / 'imgs', tmp_path / 'masks'
    img_dir.mkdir()
    mask_dir.mkdir()
    for name in ['a', 'b']:
        Image.open(paths['rgba']).save(img_dir / f'{name}.png')
        Image.open(mask_path).save(mask_dir / f'{name}.png')
    tool.main(['--config', config, '--checkpoint', ckpt, '--img', str(img_dir),
               '--mask', str(mask_dir), '--out', str(tmp_path / 'out'), '--scale', '2'])
    for name in ['a', 'b']:
        assert Image.open(tmp_path / 'out' / f'{name}.png').size == (56, 40)
    tool.main(['--config', config, '--checkpoint', ckpt, '--img', str(paths['rgba']),
               '--mask', str(mask_path), '--out', str(tmp_path / 'sized.png'),
               '--size', '33', '17'])
    assert Image.open(tmp_path / 'sized.png').size == (17, 33)


def test_mismatched_mask_is_one_line(tmp_path, trained, capsys):
    tool = load_tool('inpaint')
    config, ckpt = trained
    paths, _, _ = _images(tmp_path)
    small = tmp_path / 'small_mask.png'
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(small)
    with pytest.raises(SystemExit) as exc:
        tool.main(['--config', config, '--checkpoint', ckpt, '--img', str(paths['rgba']),
                   '--mask', str(small), '--out', str(tmp_path / 'x.png')])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'small_mask.png is 10x10' in err[0] and 'rgba.png is 28x20' in err[0]


def test_corrupt_image_and_missing_checkpoint(tmp_path, trained, capsys):
    tool = load_tool('inpaint')
    config, ckpt = trained
    _, mask_path, _ = _images(tmp_path)
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'not a png')
    with pytest.raises(SystemExit):
        tool.main(['--config', config, '--checkpoint', ckpt, '--img', str(bad),
                   '--mask', str(mask_path), '--out', str(tmp_path / 'x.png')])
    assert 'bad.png' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(['--config', config, '--checkpoint', str(tmp_path / 'none.pth'),
                   '--img', str(bad), '--mask', str(mask_path), '--out', str(tmp_path / 'x.png')])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'none.pth' in err[0]
