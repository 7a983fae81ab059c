"""The convergence check: the val change over the last fifth of training, per seed."""
import json

import pytest

from sair_toolbox.experiments.convergence import (format_levelling, last_fraction_change,
                                                  levelling)


def test_last_fraction_change():
    curve = [(100, 20.0), (200, 21.0), (300, 21.5), (400, 21.8), (500, 21.82)]
    assert last_fraction_change(curve) == pytest.approx(0.02)  # 500 - the point at 400
    assert last_fraction_change(curve, fraction=0.4) == pytest.approx(0.32)  # - at 300
    assert last_fraction_change([(100, 1.0)]) is None
    assert last_fraction_change([]) is None


def _write_log(work_dir, points):
    log = work_dir / '20260101_000000' / 'vis_data'
    log.mkdir(parents=True)
    with open(log / 'scalars.json', 'w') as f:
        for step, value in points:
            f.write(json.dumps({'all/PSNR': value, 'step': step}) + '\n')


def test_levelling_reads_each_seed_and_decides(tmp_path):
    flat, rising = tmp_path / 'flat', tmp_path / 'rising'
    _write_log(flat, [(200, 22.0), (800, 23.0), (1000, 23.01)])
    _write_log(rising, [(200, 22.0), (800, 23.0), (1000, 23.4)])
    results = {
        'SAIR': dict(runs={0: dict(work_dir=str(flat)), 1: dict(work_dir=str(flat))}),
        'LIIF': dict(runs={0: dict(work_dir=str(rising))}),
        'NFS': dict(runs={0: dict(work_dir=str(tmp_path / 'missing'))}),  # skipped
        'Fake': dict(runs={0: dict()}),  # no work dir (e.g. a test double)
    }
    level = levelling(results)
    assert set(level) == {'SAIR', 'LIIF'}
    assert level['SAIR']['mean'] == pytest.approx(0.01) and level['SAIR']['levelled']
    assert level['SAIR']['std'] == pytest.approx(0.0) and level['LIIF']['std'] is None
    assert not level['LIIF']['levelled']
    text = format_levelling(level)
    assert '| SAIR | 0.010 ± 0.000 | 2 | yes |' in text
    assert '| LIIF | 0.400 | 1 | no |' in text and 'last 20% of training' in text
    assert format_levelling({}) == ''
