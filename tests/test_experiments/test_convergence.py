"""The convergence check: the val change over the last fifth of training, per seed."""
import json

import pytest

from sair_toolbox.experiments.convergence import (difference_curve, difference_levelling,
                                                  fitted_change, format_levelling,
                                                  last_fraction_change, levelling,
                                                  run_scalars)


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
    # 3 points: no fitted tail; each seed's own change and how many are below the level.
    assert '| SAIR | 0.010 ± 0.000 | - | 0: +0.010, 1: +0.010 | 2 of 2 | yes |' in text
    assert '| LIIF | 0.400 | - | 0: +0.400 | 0 of 1 | no |' in text
    assert 'last 20% of training' in text
    assert format_levelling({}) == ''


def test_a_work_dir_lends_its_log_only_to_its_own_run(tmp_path):
    # An older results.json without saved curves reads its runs' work dirs; a later run into the
    # same folder (another --iters) must not pass its curves off as this run's.
    work_dir = tmp_path / 'seed0'
    _write_log(work_dir, [(10, 18.0), (20, 18.3)])
    own = dict(work_dir=str(work_dir), metrics={'all/PSNR': 18.3})
    other = dict(work_dir=str(work_dir), metrics={'all/PSNR': 23.7})  # trained 200 iterations
    assert run_scalars(own)['all/PSNR'] == [(10, 18.0), (20, 18.3)]
    assert run_scalars(other) == {}
    assert run_scalars(dict(work_dir=str(work_dir)))['all/PSNR'][-1] == (20, 18.3)  # no metrics
    kept = dict(other, curves={'all/PSNR': [[200, 23.7]]})  # saved curves win
    assert run_scalars(kept) == {'all/PSNR': [(200, 23.7)]}
    assert levelling({'SAIR': dict(runs={0: other})}) == {}


def test_fitted_change_uses_every_tail_point():
    # A line through the tail, whatever the noise of the two end points.
    curve = [(100 * i, 20.0 + 0.001 * 100 * i) for i in range(1, 11)]
    assert fitted_change(curve) == pytest.approx(0.2)  # 800 -> 1000 at 1e-3 dB / step
    noisy = curve[:-1] + [(1000, curve[-1][1] - 0.3)]  # last point drops by 0.3
    assert last_fraction_change(noisy) == pytest.approx(-0.1)
    assert -0.2 < fitted_change(noisy) < 0.1  # the fit is pulled less than the end point
    assert fitted_change(curve[:2]) is None  # fewer than three points
    assert fitted_change([(100, 1.0), (200, 1.0), (900, 1.0), (1000, 1.0)]) is None  # tail of 2


def test_difference_levelling_pairs_seeds_at_common_steps():
    def run(points):
        return dict(curves={'all/PSNR': [[s, v] for s, v in points]})
    steps = list(range(100, 1001, 100))
    results = {
        'SAIR': dict(runs={0: run([(s, 20 + s / 1000) for s in steps]),
                           1: run([(s, 21 + s / 1000) for s in steps])}),
        'LIIF': dict(runs={0: run([(s, 20 + s / 500) for s in steps]),
                           1: run([(s, 21 + s / 500) for s in steps[:-1]]),  # no 1000
                           2: run([(s, 0.0) for s in steps])}),  # no SAIR seed 2
    }
    assert difference_curve([(1, 5.0), (2, 6.0)], [(2, 1.0), (3, 1.0)]) == [(2, 5.0)]
    diff = difference_levelling(results)['SAIR \u2212 LIIF']
    assert set(diff['per_seed']) == {0, 1}
    # Seed 0 ends at 1000: -1.0, having moved by -0.2 since 800; seed 1 ends at 900: -0.9.
    assert diff['final']['per_seed'] == {0: pytest.approx(-1.0), 1: pytest.approx(-0.9)}
    assert diff['per_seed'][0] == pytest.approx(-0.2) and not diff['levelled']
    assert diff['fitted']['per_seed'][0] == pytest.approx(-0.2)
    level = levelling(results)
    assert level['SAIR']['fitted']['mean'] == pytest.approx(0.2)
    text = format_levelling(level, difference_levelling(results))
    assert '| SAIR \u2212 LIIF | \u22120.950 ± 0.071 |' in text and 'fitted change' in text
    assert '| 0: \u22120.200, 1: \u22120.200 | 0 of 2 | no |' in text
    assert difference_levelling({'SAIR': results['SAIR']}) == {}
