"""Seed statistics of the miniature tables: mean ± std over seeds, paired differences with 95 %
confidence intervals, and their formatting.

A *row* of a table (one model variant) is scored per image and per training seed. Two rows are
compared on the same ``(seed, image id)`` pairs -- the same val image with the same mask, under
the same seed's data order -- so the comparison is *paired*:

* the per-seed mean difference ``d_s = mean_i(a[s, i] - b[s, i])`` is the effect measured by one
  training run; their mean over seeds is the estimate;
* the **paired t interval** treats the ``d_s`` as ``n`` independent draws (``n - 1`` degrees of
  freedom, :func:`scipy.stats.t`): it carries the seed-to-seed (training) noise, needs at least
  two seeds, and is wide with few seeds;
* the **hierarchical bootstrap** resamples seeds, then images within each drawn seed (both with
  replacement, seeded), recomputing the mean of per-seed mean differences: it carries the image
  sampling noise too, and also works with one seed (then it only knows the image noise).

A difference is *distinguishable from zero* when its interval excludes 0 (by default: every
available interval, see :func:`compare_paired`); otherwise it is reported as "n.s."

Example::

    a = {0: {'img0': 24.6, 'img1': 23.9}, 1: {'img0': 24.8, 'img1': 24.3}}   # SAIR
    b = {0: {'img0': 24.4, 'img1': 23.9}, 1: {'img0': 24.5, 'img1': 24.2}}   # LIIF
    cmp = compare_paired(a, b)
    format_difference(cmp)          # '+0.15 dB [−0.49, +0.79] (n.s.)'
"""
import math
from dataclasses import dataclass
from typing import Any, Dict, Hashable, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from sair_toolbox.utils.errors import DataError

#: ``{seed: {image id: score}}``: one row's per-image scores (JSON-friendly: keys may be strings).
Scores = Mapping[Hashable, Mapping[Hashable, float]]

_MINUS = '\u2212'  # the typographic minus of the tables
_PLUS_MINUS = '\u00b1'


# ---------------------------------------------------------------------------------- basics
def mean_std(values: Iterable[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``) over seeds.

    Args:
        values: one number per seed (at least one; NaNs are not allowed).

    Returns:
        ``(mean, std)``; ``std`` is 0.0 for a single value.

    Raises:
        DataError: no values, or a non-finite one.
    """
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        raise DataError('mean_std needs at least one value')
    if not np.all(np.isfinite(arr)):
        raise DataError(f'mean_std got non-finite values: {arr.tolist()}')
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std


def summarize_seeds(metrics_by_seed: Mapping[Hashable, Mapping[str, float]]
                    ) -> Dict[str, Tuple[float, float]]:
    """Mean and std over seeds of every metric key that all seeds report.

    Args:
        metrics_by_seed: ``{seed: {'40-60/PSNR': 24.1, ...}}`` (e.g. ``runner.test()`` per seed).

    Returns:
        ``{key: (mean, std)}`` for the numeric keys common to every seed (counts included), in
        the first seed's key order.
    """
    runs = list(metrics_by_seed.values())
    if not runs:
        raise DataError('summarize_seeds needs at least one seed')
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))
            and all(isinstance(r.get(k), (int, float)) for r in runs)]
    return {k: mean_std(float(r[k]) for r in runs) for k in keys}


def paired_t_interval(per_seed: Sequence[float], confidence: float = 0.95
                      ) -> Tuple[float, float, float]:
    """Mean and two-sided ``confidence`` t interval of per-seed paired differences.

    ``mean ± t_{(1+confidence)/2, n-1} * sd / sqrt(n)`` with the sample standard deviation.

    Args:
        per_seed: the ``n`` per-seed mean differences ``d_s``.
        confidence: coverage in (0, 1).

    Returns:
        ``(mean, low, high)``; ``low = high = nan`` with fewer than two seeds.
    """
    from scipy import stats
    _check_confidence(confidence)
    d = np.asarray(per_seed, dtype=np.float64)
    if d.size == 0:
        raise DataError('paired_t_interval needs at least one per-seed difference')
    mean = float(d.mean())
    if d.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, df=d.size - 1)) * float(d.std(ddof=1)) \
        / math.sqrt(d.size)
    return mean, mean - half, mean + half


def hierarchical_bootstrap(diffs_by_seed: Sequence[Sequence[float]],
                           num_resamples: int = 2000,
                           confidence: float = 0.95,
                           seed: int = 0) -> Tuple[float, float]:
    """Percentile interval of the mean of per-seed mean differences, resampling seeds then images.

    Each resample draws ``S`` seeds with replacement and, independently for every drawn slot,
    that seed's images with replacement; its statistic is the mean over the slots of the image
    means. The generator is ``numpy.random.default_rng(seed)``: the same inputs and ``seed``
    give the same interval, and the global RNG is not touched.

    Args:
        diffs_by_seed: per seed, the per-image differences ``a - b`` (sizes may differ).
        num_resamples: bootstrap resamples (e.g. 2000).
        confidence: coverage in (0, 1).
        seed: the bootstrap's own seed.

    Returns:
        ``(low, high)``.
    """
    _check_confidence(confidence)
    groups = [np.asarray(g, dtype=np.float64) for g in diffs_by_seed]
    if not groups or any(g.size == 0 for g in groups):
        raise DataError('hierarchical_bootstrap needs at least one seed, each with images')
    if num_resamples < 1:
        raise DataError(f'num_resamples must be >= 1, got {num_resamples}')
    rng = np.random.default_rng(seed)
    num_seeds = len(groups)
    picks = rng.integers(0, num_seeds, size=(num_resamples, num_seeds))  # seeds per slot
    total = np.zeros(num_resamples)
    for slot in range(num_seeds):
        for s, g in enumerate(groups):
            chosen = picks[:, slot] == s
            count = int(chosen.sum())
            if count:
                idx = rng.integers(0, g.size, size=(count, g.size))
                total[chosen] += g[idx].mean(axis=1)
    stat = total / num_seeds
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stat, [alpha, 1 - alpha])
    return float(low), float(high)


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise DataError(f'confidence must be in (0, 1), got {confidence}')


# ---------------------------------------------------------------------------------- pairing
def scores_from_records(records: Iterable[Mapping[str, Any]], metric: str,
                        seed_key: str = 'seed', image_key: str = 'image') -> Dict:
    """``{seed: {image id: score}}`` from flat per-image records (e.g. a ``results.json`` list).

    Args:
        records: dicts holding at least ``seed_key``, ``image_key`` and ``metric``.
        metric: the score's key (e.g. ``'PSNR'``).
        seed_key, image_key: the pairing keys.

    Raises:
        DataError: a record lacks a key, or a ``(seed, image)`` pair occurs twice.
    """
    out: Dict[Hashable, Dict[Hashable, float]] = {}
    for rec in records:
        try:
            seed, image, value = rec[seed_key], rec[image_key], float(rec[metric])
        except KeyError as exc:
            raise DataError(f'per-image record without {exc.args[0]!r}: {dict(rec)}') from None
        per_seed = out.setdefault(seed, {})
        if image in per_seed:
            raise DataError(f'per-image records: ({seed_key}={seed!r}, {image_key}={image!r}) '
                            'occurs twice')
        per_seed[image] = value
    return out


def scores_by_seed(records_by_seed: Mapping[Hashable, Iterable[Mapping[str, Any]]], metric: str,
                   mask_bin: Optional[str] = None, image_key: str = 'img_path') -> Dict:
    """``{seed: {image id: score}}`` from per-seed lists of ``InpaintingMetric`` records.

    ``InpaintingMetric.process`` appends one record per val image (``bin``, ``img_path``,
    ``PSNR``, ``SSIM``, ``L1``, ``input_*``...); a run keeps them per seed. The image id is the
    record's ``image_key`` (the file path: the same val image under every seed and row).

    Args:
        records_by_seed: ``{seed: [record, ...]}`` of one row.
        metric: the score's key (``'PSNR'``).
        mask_bin: only the records of this hole-ratio bin (e.g. ``'40-60'``); None = all.
        image_key: the pairing key of a record.

    Raises:
        DataError: a record lacks a key, an image occurs twice within a seed, or a seed keeps
            no image.
    """
    out = {}
    for seed, records in records_by_seed.items():
        chosen = [r for r in records if mask_bin is None or r.get('bin') == mask_bin]
        flat = [dict(r, _seed=seed) for r in chosen]
        scores = scores_from_records(flat, metric, seed_key='_seed', image_key=image_key)
        if not scores:
            raise DataError(f'seed {seed!r}: no per-image records'
                            + (f' in bin {mask_bin!r}' if mask_bin is not None else ''))
        out[seed] = scores[seed]
    return out


def paired_differences(a: Scores, b: Scores) -> Dict[Hashable, np.ndarray]:
    """Per seed, the per-image differences ``a - b`` on the ``(seed, image id)`` pairs.

    Args:
        a, b: ``{seed: {image id: score}}`` of the two rows; they must hold the same seeds and,
            per seed, the same image ids (a paired comparison on other pairs is no comparison).

    Returns:
        ``{seed: (n_seed,) float64}`` in sorted seed order, images in sorted id order.

    Raises:
        DataError: the seeds or image ids differ, or a seed has no images.
    """
    if set(a) != set(b):
        raise DataError(f'paired comparison: the rows have different seeds '
                        f'({sorted(map(str, a))} vs {sorted(map(str, b))})')
    if not a:
        raise DataError('paired comparison: no seeds')
    out = {}
    for seed in sorted(a, key=str):
        ia, ib = a[seed], b[seed]
        if set(ia) != set(ib):
            missing = sorted(map(str, set(ia) ^ set(ib)))
            raise DataError(f'paired comparison: seed {seed!r} scores other images in the two '
                            f'rows ({len(missing)} unmatched, e.g. {missing[:3]})')
        if not ia:
            raise DataError(f'paired comparison: seed {seed!r} has no images')
        ids = sorted(ia, key=str)
        out[seed] = np.array([float(ia[i]) - float(ib[i]) for i in ids], dtype=np.float64)
    return out


@dataclass(frozen=True)
class PairedComparison:
    """The paired difference of two rows (``a - b``) with its 95 % intervals.

    Attributes:
        mean: mean over seeds of the per-seed mean differences.
        per_seed: the per-seed mean differences ``d_s`` (sorted seed order).
        t_interval: paired t interval over ``per_seed`` (``(nan, nan)`` with one seed).
        bootstrap_interval: hierarchical bootstrap interval (seeds, then images).
        num_seeds, num_images: the pairs compared (images summed over seeds).
        confidence: the intervals' coverage.
        require: which intervals must exclude 0 for :attr:`distinguishable` (``'all'``, ``'t'``,
            ``'bootstrap'``).
    """
    mean: float
    per_seed: Tuple[float, ...]
    t_interval: Tuple[float, float]
    bootstrap_interval: Tuple[float, float]
    num_seeds: int
    num_images: int
    confidence: float = 0.95
    require: str = 'all'

    @staticmethod
    def _excludes_zero(interval: Tuple[float, float]) -> bool:
        low, high = interval
        return bool(low > 0 or high < 0)

    @property
    def has_t(self) -> bool:
        """Whether the t interval exists (at least two seeds)."""
        return not math.isnan(self.t_interval[0])

    @property
    def distinguishable(self) -> bool:
        """Whether the difference is distinguishable from zero: the required interval(s)
        exclude 0. With ``require='all'`` that is both intervals (the bootstrap alone with one
        seed); ``require='t'`` with one seed is never distinguishable."""
        boot = self._excludes_zero(self.bootstrap_interval)
        t = self.has_t and self._excludes_zero(self.t_interval)
        if self.require == 't':
            return t
        if self.require == 'bootstrap':
            return boot
        return boot and (t or not self.has_t)

    @property
    def interval(self) -> Tuple[float, float]:
        """The interval to print: the t interval when it exists and is required, else the
        bootstrap's; with ``require='all'`` the union of both (the more cautious one)."""
        if self.require == 'bootstrap' or not self.has_t:
            return self.bootstrap_interval
        if self.require == 't':
            return self.t_interval
        return (min(self.t_interval[0], self.bootstrap_interval[0]),
                max(self.t_interval[1], self.bootstrap_interval[1]))

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready form (NaNs as None)."""
        def clean(x):
            return None if isinstance(x, float) and math.isnan(x) else x
        return dict(mean=self.mean, per_seed=list(self.per_seed),
                    t_interval=[clean(x) for x in self.t_interval],
                    bootstrap_interval=list(self.bootstrap_interval),
                    interval=list(self.interval), num_seeds=self.num_seeds,
                    num_images=self.num_images, confidence=self.confidence,
                    require=self.require, distinguishable=self.distinguishable)


def compare_paired(a: Scores, b: Scores,
                   confidence: float = 0.95,
                   num_resamples: int = 2000,
                   bootstrap_seed: int = 0,
                   require: str = 'all') -> PairedComparison:
    """Paired comparison of two rows' per-image scores (``a - b``).

    Args:
        a, b: ``{seed: {image id: score}}`` (see :func:`paired_differences`).
        confidence: the intervals' coverage (0.95).
        num_resamples, bootstrap_seed: see :func:`hierarchical_bootstrap`.
        require: which intervals decide :attr:`PairedComparison.distinguishable`: ``'all'``
            (default, the cautious verdict: both when there are >= 2 seeds), ``'t'`` or
            ``'bootstrap'``.

    Returns:
        a :class:`PairedComparison`.
    """
    if require not in ('all', 't', 'bootstrap'):
        raise DataError(f"require must be 'all', 't' or 'bootstrap', got {require!r}")
    diffs = paired_differences(a, b)
    per_seed = [float(d.mean()) for d in diffs.values()]
    mean, low, high = paired_t_interval(per_seed, confidence)
    boot = hierarchical_bootstrap(list(diffs.values()), num_resamples, confidence,
                                  bootstrap_seed)
    return PairedComparison(mean=mean, per_seed=tuple(per_seed), t_interval=(low, high),
                            bootstrap_interval=boot, num_seeds=len(diffs),
                            num_images=int(sum(d.size for d in diffs.values())),
                            confidence=confidence, require=require)


# ---------------------------------------------------------------------------------- formatting
def _signed(value: float, digits: int) -> str:
    """``+0.21`` / ``−0.05`` (typographic minus; ``+0.00`` for values that round to zero)."""
    text = f'{abs(value):.{digits}f}'
    negative = value < 0 and float(text) != 0
    return (_MINUS if negative else '+') + text


def format_mean_std(mean: float, std: Optional[float] = None, digits: int = 2) -> str:
    """``'24.54 ± 0.12'`` (``'24.54'`` when ``std`` is None).

    Args:
        mean, std: e.g. from :func:`mean_std`.
        digits: decimals of both.
    """
    text = f'{mean:.{digits}f}'.replace('-', _MINUS)
    return text if std is None else f'{text} {_PLUS_MINUS} {std:.{digits}f}'


def format_values(values: Iterable[float], digits: int = 2) -> str:
    """:func:`format_mean_std` of :func:`mean_std` (``'24.54 ± 0.12'``)."""
    return format_mean_std(*mean_std(values), digits=digits)


def format_difference(comparison: PairedComparison, unit: str = 'dB', digits: int = 2) -> str:
    """``'+0.21 dB [−0.05, +0.47] (n.s.)'``: the mean difference, its interval
    (:attr:`PairedComparison.interval`) and the verdict: ``(n.s.)`` when not distinguishable
    from zero, ``(*)`` when it is.

    Args:
        comparison: from :func:`compare_paired`.
        unit: appended to the mean (``''`` for none, e.g. SSIM).
        digits: decimals.
    """
    low, high = comparison.interval
    unit = f' {unit}' if unit else ''
    verdict = '(*)' if comparison.distinguishable else '(n.s.)'
    return (f'{_signed(comparison.mean, digits)}{unit} '
            f'[{_signed(low, digits)}, {_signed(high, digits)}] {verdict}')


def comparison_rows(pairs: Sequence[Tuple[str, str]], scores: Mapping[str, Scores],
                    **kwargs) -> List[Tuple[str, PairedComparison]]:
    """Paired comparisons of named rows, skipping pairs whose rows are missing.

    Args:
        pairs: ``(a, b)`` row names, e.g. ``[('SAIR', 'LIIF'), ('SAIR', 'NFS')]``.
        scores: ``{row name: {seed: {image id: score}}}``.
        **kwargs: passed to :func:`compare_paired`.

    Returns:
        ``[('SAIR − LIIF', comparison), ...]`` for the pairs whose two rows are in ``scores``.
    """
    return [(f'{a} {_MINUS} {b}', compare_paired(scores[a], scores[b], **kwargs))
            for a, b in pairs if a in scores and b in scores]
