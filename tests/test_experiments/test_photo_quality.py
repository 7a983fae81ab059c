"""experiments/photo_quality.py: the photo-like holes, the hole scores, and a tiny run of the four
methods written and summarised."""
import json

import numpy as np

from sair_toolbox.experiments.photo_quality import (METHODS, hole_scores, photo_hole,
                                                    run_photo_quality, summarize, write_outputs)
from tests.tiny_sair import save_tiny_sair


def test_photo_holes_are_seeded_and_in_range():
    for index in range(5):
        hole = photo_hole(128, 0, index)
        assert hole.dtype == np.float32 and 0.02 <= hole.mean() <= 0.10
        assert np.array_equal(hole, photo_hole(128, 0, index))
    assert not np.array_equal(photo_hole(128, 0, 0), photo_hole(128, 1, 0))


def test_hole_scores_only_look_at_the_hole():
    gt = np.full((32, 32, 3), 100, np.uint8)
    out = gt.copy()
    out[:4] = 0  # outside the hole: ignored
    hole = np.zeros((32, 32), np.float32)
    hole[10:20, 10:20] = 1
    out[10:20, 10:20] = 110
    scores = hole_scores(gt, out, hole)
    assert abs(scores['PSNR'] - 10 * np.log10(255 ** 2 / 100)) < 1e-9
    assert 0 < scores['SSIM'] < 1


def test_a_tiny_run_scores_every_method_and_writes_its_tables(tmp_path):
    config, ckpt = save_tiny_sair(tmp_path)
    with open(config, 'a') as f:
        f.write('img_size = 64\n')  # the working size the strategies need
    result = run_photo_quality(config, ckpt, sizes=[96], num_images=2, mask_seeds=[0, 1],
                               log=lambda line: None)
    records = result['records']['96']
    assert set(records) == set(METHODS)
    for method in METHODS:
        assert set(records[method]) == {'0', '1'}
        assert set(records[method]['0']) == {'0', '1'}  # images
    assert {s['strategy'] for s in records['full']['0'].values()} == {'full'}
    paths = write_outputs(result, str(tmp_path / 'out'))
    assert json.load(open(paths[0]))['setting']['working_size'] == 64
    table = open(paths[1]).read()
    assert table == summarize(result) + '\n'
    assert summarize(json.load(open(paths[0]))) == summarize(result)  # rows in method order
    assert '### 96 px (1.5x the training size)' in table and '| crop-native minus |' in table
