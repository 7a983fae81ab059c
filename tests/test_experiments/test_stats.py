"""Seed statistics: known answers for mean ± std, the paired t interval, the hierarchical
bootstrap, the verdicts and the formatting."""
import math
import random

import numpy as np
import pytest
import torch

from sair_toolbox.experiments.stats import (PairedComparison, compare_paired, comparison_rows,
                                            format_difference, format_mean_std, format_values,
                                            hierarchical_bootstrap, mean_std, paired_differences,
                                            paired_t_interval, scores_by_seed,
                                            scores_from_records, summarize_seeds)
from sair_toolbox.utils.errors import DataError

# t_{0.975, 2}, from tables (e.g. NIST/SEMATECH): 4.302652729911275.
T_975_DF2 = 4.302652729911275


def _rows(shift_per_seed, num_images=30, seed=0):
    """Two rows' scores on the same (seed, image) pairs: a = b + shift(seed)."""
    rng = np.random.default_rng(seed)
    a, b = {}, {}
    for s, shift in enumerate(shift_per_seed):
        base = rng.normal(24, 1, num_images)
        a[s] = {f'img{i}': float(base[i] + shift) for i in range(num_images)}
        b[s] = {f'img{i}': float(base[i]) for i in range(num_images)}
    return a, b


def test_mean_std_sample_std():
    mean, std = mean_std([24.42, 24.54, 24.66])
    assert mean == pytest.approx(24.54)
    assert std == pytest.approx(0.12)  # sqrt((0.12^2 + 0 + 0.12^2) / 2)
    assert mean_std([3.0]) == (3.0, 0.0)
    with pytest.raises(DataError):
        mean_std([])
    with pytest.raises(DataError):
        mean_std([1.0, float('nan')])


def test_summarize_seeds():
    runs = {0: {'all/PSNR': 24.42, '40-60/PSNR': 20.0, 'all/count': 40, 'note': 'x'},
            1: {'all/PSNR': 24.54, '40-60/PSNR': 20.5, 'all/count': 40},
            2: {'all/PSNR': 24.66, 'all/count': 40}}
    summary = summarize_seeds(runs)
    assert list(summary) == ['all/PSNR', 'all/count']  # keys every seed has
    assert summary['all/PSNR'] == pytest.approx((24.54, 0.12))
    assert summary['all/count'] == (40.0, 0.0)


def test_format_mean_std():
    assert format_mean_std(24.5371, 0.1234) == '24.54 \u00b1 0.12'
    assert format_values([24.42, 24.54, 24.66]) == '24.54 \u00b1 0.12'
    assert format_mean_std(0.8123, None, digits=3) == '0.812'
    assert format_mean_std(-1.5, 0.25) == '\u22121.50 \u00b1 0.25'


def test_t_interval_matches_hand_computation():
    # d = (0.1, 0.3, 0.2): mean 0.2, sd 0.1, se 0.1 / sqrt(3); half width t * se.
    mean, low, high = paired_t_interval([0.1, 0.3, 0.2])
    half = T_975_DF2 * 0.1 / math.sqrt(3)
    assert mean == pytest.approx(0.2)
    assert low == pytest.approx(0.2 - half, abs=1e-9)
    assert high == pytest.approx(0.2 + half, abs=1e-9)
    assert low == pytest.approx(-0.048414, abs=1e-6)


def test_t_interval_one_seed_is_undefined():
    mean, low, high = paired_t_interval([0.4])
    assert mean == 0.4 and math.isnan(low) and math.isnan(high)


def test_compare_uses_per_seed_means_for_t():
    a, b = _rows([0.1, 0.3, 0.2])
    cmp = compare_paired(a, b)
    assert cmp.per_seed == pytest.approx((0.1, 0.3, 0.2))
    half = T_975_DF2 * 0.1 / math.sqrt(3)
    assert cmp.t_interval == pytest.approx((0.2 - half, 0.2 + half))
    assert cmp.num_seeds == 3 and cmp.num_images == 90
    # Constant shift within each seed: the bootstrap only sees the seed spread.
    assert 0.1 - 1e-9 <= cmp.bootstrap_interval[0] <= cmp.bootstrap_interval[1] <= 0.3 + 1e-9
    assert not cmp.distinguishable  # the t interval contains 0
    assert format_difference(cmp) == '+0.20 dB [\u22120.05, +0.45] (n.s.)'


def test_bootstrap_of_constant_shift_is_that_shift():
    a, b = _rows([0.3, 0.3, 0.3, 0.3])
    cmp = compare_paired(a, b)
    assert cmp.mean == pytest.approx(0.3)
    assert cmp.bootstrap_interval == pytest.approx((0.3, 0.3))
    assert cmp.t_interval == pytest.approx((0.3, 0.3))
    assert cmp.distinguishable
    assert format_difference(cmp) == '+0.30 dB [+0.30, +0.30] (*)'
    neg = compare_paired(b, a)
    assert neg.distinguishable and format_difference(neg, unit='') == \
        '\u22120.30 [\u22120.30, \u22120.30] (*)'


def test_bootstrap_is_seeded_and_leaves_global_rng_alone():
    groups = [np.random.default_rng(i).normal(0.1, 1, 40) for i in range(3)]
    states = (np.random.get_state()[1].copy(), random.getstate(), torch.get_rng_state())
    first = hierarchical_bootstrap(groups, num_resamples=500, seed=7)
    assert hierarchical_bootstrap(groups, num_resamples=500, seed=7) == first
    assert hierarchical_bootstrap(groups, num_resamples=500, seed=8) != first
    assert np.array_equal(np.random.get_state()[1], states[0])
    assert random.getstate() == states[1]
    assert torch.equal(torch.get_rng_state(), states[2])


def test_bootstrap_one_seed_matches_plain_bootstrap_width():
    """With one seed the hierarchical bootstrap is the ordinary bootstrap of the image mean:
    its 95 % interval is about mean ± 1.96 sd / sqrt(n)."""
    x = np.random.default_rng(0).normal(0.5, 1.0, 400)
    low, high = hierarchical_bootstrap([x], num_resamples=4000, seed=0)
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert low == pytest.approx(x.mean() - 1.96 * se, abs=0.3 * se)
    assert high == pytest.approx(x.mean() + 1.96 * se, abs=0.3 * se)


def test_verdicts():
    clear = PairedComparison(mean=0.3, per_seed=(0.3, 0.3), t_interval=(0.1, 0.5),
                             bootstrap_interval=(0.2, 0.4), num_seeds=2, num_images=10)
    assert clear.distinguishable and clear.interval == (0.1, 0.5)
    # Bootstrap excludes 0 but the t interval does not: cautious 'all' says n.s.
    mixed = PairedComparison(mean=0.3, per_seed=(0.0, 0.6), t_interval=(-3.5, 4.1),
                             bootstrap_interval=(0.1, 0.5), num_seeds=2, num_images=10)
    assert not mixed.distinguishable
    assert PairedComparison(**{**mixed.__dict__, 'require': 'bootstrap'}).distinguishable
    assert not PairedComparison(**{**mixed.__dict__, 'require': 't'}).distinguishable
    # One seed: no t interval; 'all' falls back to the bootstrap, 't' is never distinguishable.
    one = PairedComparison(mean=0.3, per_seed=(0.3,), t_interval=(math.nan, math.nan),
                           bootstrap_interval=(0.1, 0.5), num_seeds=1, num_images=10)
    assert one.distinguishable and one.interval == (0.1, 0.5)
    assert not PairedComparison(**{**one.__dict__, 'require': 't'}).distinguishable
    assert one.to_dict()['t_interval'] == [None, None]
    # An interval touching 0 does not exclude it.
    edge = PairedComparison(mean=0.2, per_seed=(0.2,), t_interval=(math.nan, math.nan),
                            bootstrap_interval=(0.0, 0.4), num_seeds=1, num_images=10)
    assert not edge.distinguishable


def test_pairing_by_seed_and_image_id():
    a = {0: {'x': 2.0, 'y': 5.0}, 1: {'x': 1.0, 'y': 1.0}}
    b = {1: {'y': 0.5, 'x': 1.0}, 0: {'y': 4.0, 'x': 1.5}}  # other order, same pairs
    diffs = paired_differences(a, b)
    assert list(diffs) == [0, 1]
    assert diffs[0].tolist() == [0.5, 1.0] and diffs[1].tolist() == [0.0, 0.5]
    with pytest.raises(DataError, match='different seeds'):
        paired_differences(a, {0: b[0]})
    with pytest.raises(DataError, match='other images'):
        paired_differences(a, {0: {'x': 1.0, 'z': 1.0}, 1: b[1]})


def test_scores_from_records_and_comparison_rows():
    recs = [dict(seed=s, image=i, PSNR=20.0 + s + 0.1 * i) for s in range(2) for i in range(3)]
    sair = scores_from_records(recs, 'PSNR')
    liif = scores_from_records([dict(r, PSNR=r['PSNR'] - 0.25) for r in recs], 'PSNR')
    assert sair[1][2] == pytest.approx(21.2)
    rows = comparison_rows([('SAIR', 'LIIF'), ('SAIR', 'NFS')], dict(SAIR=sair, LIIF=liif))
    assert [name for name, _ in rows] == ['SAIR \u2212 LIIF']
    assert rows[0][1].mean == pytest.approx(0.25) and rows[0][1].distinguishable
    with pytest.raises(DataError, match='twice'):
        scores_from_records(recs + recs[:1], 'PSNR')
    with pytest.raises(DataError, match="'PSNR'"):
        scores_from_records([dict(seed=0, image=0)], 'PSNR')


def test_scores_by_seed_from_metric_records():
    """InpaintingMetric's per-image records, kept per seed, pair by image path (and bin)."""
    def records(offset):
        return [dict(bin=['0-20', '20-40', '40-60'][i % 3], img_path=f'val/{i:05d}.png',
                     PSNR=20.0 + i + offset) for i in range(6)]
    sair = scores_by_seed({0: records(0.5), 1: records(0.3)}, 'PSNR')
    liif = scores_by_seed({0: records(0.0), 1: records(0.0)}, 'PSNR')
    assert sair[1]['val/00002.png'] == pytest.approx(22.3)
    assert compare_paired(sair, liif).mean == pytest.approx(0.4)
    hole = scores_by_seed({0: records(0.5)}, 'PSNR', mask_bin='40-60')
    assert sorted(hole[0]) == ['val/00002.png', 'val/00005.png']
    with pytest.raises(DataError, match='no per-image records in bin'):
        scores_by_seed({0: records(0.0)}, 'PSNR', mask_bin='60-80')


def test_bad_arguments():
    with pytest.raises(DataError):
        paired_t_interval([0.1, 0.2], confidence=1.5)
    with pytest.raises(DataError):
        hierarchical_bootstrap([], num_resamples=10)
    with pytest.raises(DataError):
        compare_paired({0: {'a': 1.0}}, {0: {'a': 0.0}}, require='both')
