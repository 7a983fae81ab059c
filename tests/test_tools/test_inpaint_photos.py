"""tools/inpaint.py on photos as users have them: a 12-megapixel phone JPEG with a 1 % hole (a box
and a scribble) and a 1024 x 1024 photo with a 10 % hole, through the crop strategy; the old
whole-photo path refused by the memory guard; a folder run's last line."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.tiny_sair import ROOT, save_tiny_sair

TOOL = os.path.join(ROOT, 'tools', 'inpaint.py')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return save_tiny_sair(tmp_path_factory.mktemp('tiny_photos'))


def run(tiny, *args, check=True):
    config, ckpt = tiny
    proc = subprocess.run([sys.executable, TOOL, '--config', config, '--checkpoint', ckpt,
                           '--device', 'cpu', '--working-size', '64', *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, HF_HUB_OFFLINE='1'))
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def phone_photo(folder, w=4032, h=3024):
    """A photo-like JPEG (smooth colours, texture) and a mask: a box and a scribble, ~1 %."""
    small = np.random.default_rng(0).integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8)
    Image.fromarray(small).resize((w, h), Image.BICUBIC).save(folder / 'phone.jpg', quality=90)
    mask = Image.new('L', (w, h), 0)
    draw = ImageDraw.Draw(mask)
    draw.rectangle((2400, 1200, 2700, 1550), fill=255)
    draw.line([(600, 2400), (900, 2300), (1300, 2500), (1500, 2450)], fill=255, width=28)
    mask.save(folder / 'phone_hole.png')
    return folder / 'phone.jpg', folder / 'phone_hole.png'


def test_a_12_megapixel_phone_photo_through_the_cli(tiny, tmp_path):
    img, hole = phone_photo(tmp_path)
    out = tmp_path / 'filled.png'
    proc = run(tiny, '--img', img, '--mask', hole, '--out', out, '--max-memory', '1.5GB')
    line = proc.stdout.strip().splitlines()[-1]
    assert '(4032x3024, hole 1.' in line and '(4032x3024, strategy crop, 2 crops)' in line, line
    filled = np.asarray(Image.open(out))
    decoded = np.asarray(Image.open(img).convert('RGB'))
    known = np.asarray(Image.open(hole)) == 0
    assert filled.shape == decoded.shape == (3024, 4032, 3)
    assert np.array_equal(filled[known], decoded[known])   # every known pixel as decoded
    assert not np.array_equal(filled[~known], decoded[~known])
    # The whole photo through the model (the old behaviour) does not fit that limit.
    refused = run(tiny, '--img', img, '--mask', hole, '--out', tmp_path / 'full.png',
                  '--strategy', 'full', '--max-memory', '1.5GB', check=False)
    assert refused.returncode == 2 and not (tmp_path / 'full.png').exists()
    err = [line for line in refused.stderr.splitlines() if 'error' in line]  # not the warnings
    assert len(err) == 1 and err[0].startswith('inpaint.py: error: output 4032x3024')
    assert 'needs about' in err[0] and 'above the limit of 1.5 GB' in err[0]


def test_a_1_megapixel_photo_with_a_10_percent_hole(tiny, tmp_path):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / 'photo.png')
    mask = np.zeros((1024, 1024), np.uint8)
    mask[300:624, 400:724] = 255  # 10 %
    Image.fromarray(mask).save(tmp_path / 'hole.png')
    proc = run(tiny, '--img', tmp_path / 'photo.png', '--mask', tmp_path / 'hole.png', '--out',
               tmp_path / 'out.png')
    assert 'hole 10.0%' in proc.stdout and 'strategy crop, 1 crop)' in proc.stdout
    out = np.asarray(Image.open(tmp_path / 'out.png'))
    assert np.array_equal(out[mask == 0], img[mask == 0])


def test_a_folder_run_ends_with_its_summary_naming_only_what_exists(tiny, tmp_path):
    (tmp_path / 'imgs').mkdir()
    (tmp_path / 'masks').mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / 'imgs' / 'a.png')
    proc = run(tiny, '--img', tmp_path / 'imgs', '--mask', tmp_path / 'masks', '--out',
               tmp_path / 'outs', '--no-progress', check=False)
    assert proc.returncode == 1
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('1 images: 0 written, 0 already done (skipped), 1 failed')
    assert 'outputs in' not in last and not (tmp_path / 'outs').exists()


def test_the_summary_names_the_folders_of_outputs_that_exist(tmp_path):
    from sair_toolbox.apis.batch import BatchReport
    (tmp_path / 'outs').mkdir()
    (tmp_path / 'outs' / 'a.png').write_bytes(b'png')
    report = BatchReport(done=[str(tmp_path / 'outs' / 'a.png')],
                         skipped=[str(tmp_path / 'gone' / 'b.png')],
                         failed=[('c.png', 'cannot read image c.png')])
    lines = report.summary().splitlines()
    assert lines[0] == '  failed: c.png: cannot read image c.png'
    assert lines[-1].startswith('3 images: 1 written, 1 already done (skipped), 1 failed')
    assert lines[-1].endswith(f'; outputs in {tmp_path / "outs"}')  # not the missing folder
