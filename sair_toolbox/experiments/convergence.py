"""Has validation levelled off? The convergence check of the seeded demo tables.

A schedule is "converged" here when the validation PSNR changes by less than
:data:`LEVEL_DB` over the last fifth of training (the last val point minus the val point at
80 % of the iterations), averaged over seeds. :func:`levelling` reads each run's curves
(:func:`run_scalars`: those kept in ``results.json``, else the run's own MMEngine scalar log), so
it applies to any ``run_demo_tables`` result; :func:`format_levelling` writes the markdown lines.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

#: The change (dB) over the last fifth of training below which a curve counts as levelled.
LEVEL_DB = 0.05


def last_fraction_change(curve: Sequence[Tuple[int, float]], fraction: float = 0.2
                         ) -> Optional[float]:
    """``value(last step) - value(step nearest to (1 - fraction) * last step)`` of one curve.

    Args:
        curve: ``[(step, value), ...]`` in step order (one val metric of one run).
        fraction: the tail of training to measure (0.2: the last fifth).

    Returns:
        The change, or None with fewer than two points or no point before the tail.
    """
    if len(curve) < 2:
        return None
    last_step, last_value = curve[-1]
    target = (1 - fraction) * last_step
    earlier = [(abs(step - target), value) for step, value in curve[:-1]]
    if not earlier:
        return None
    return float(last_value - min(earlier)[1])


def fitted_change(curve: Sequence[Tuple[int, float]], fraction: float = 0.2
                  ) -> Optional[float]:
    """The change over the last ``fraction`` of training of a least-squares line through the
    val points in it (from the point nearest to ``(1 - fraction) * last step`` on).

    The end-point difference of :func:`last_fraction_change` carries the noise of two single
    val points (at a constant learning rate they wander by about 0.1 dB in the demo runs); the
    line uses every point of the tail. A supplement to the levelling check, not its criterion.

    Args:
        curve: ``[(step, value), ...]`` in step order.
        fraction: the tail of training.

    Returns:
        ``slope * (last step - first tail step)``, or None with fewer than three tail points.
    """
    if len(curve) < 3:
        return None
    target = (1 - fraction) * curve[-1][0]
    start = min(range(len(curve) - 1), key=lambda i: abs(curve[i][0] - target))
    tail = curve[start:]
    if len(tail) < 3:
        return None
    steps = [float(step) for step, _ in tail]
    values = [float(value) for _, value in tail]
    mean_s, mean_v = sum(steps) / len(steps), sum(values) / len(values)
    slope = (sum((a - mean_s) * (b - mean_v) for a, b in zip(steps, values))
             / sum((a - mean_s) ** 2 for a in steps))
    return slope * (steps[-1] - steps[0])


def difference_curve(a: Sequence[Tuple[int, float]], b: Sequence[Tuple[int, float]]
                     ) -> List[Tuple[int, float]]:
    """``a - b`` at the steps both curves have (the same run's seed of two rows: paired)."""
    other = dict(b)
    return [(step, value - other[step]) for step, value in a if step in other]


#: The metric that ties a work dir's log to a saved run (:func:`run_scalars`).
FINAL_KEY = 'all/PSNR'


def run_scalars(run: Mapping) -> Dict[str, List[Tuple[int, float]]]:
    """The scalar curves of one run: those it kept (``run['curves']``, written into
    ``results.json`` by the demo tables) or, for runs without them, those of its work dir's
    MMEngine log (:func:`~sair_toolbox.visualization.curves.read_scalars`); ``{}`` when
    neither is there. A work dir is only read when its log is this run's: the last val
    ``all/PSNR`` it logged must be the run's saved final ``metrics['all/PSNR']`` (the two are
    the same evaluation). A later run into the same work dir (another ``--iters``, another
    code) would otherwise lend its curves to this one.

    Returns:
        ``{key: [(step, value), ...]}`` sorted by step.
    """
    import os.path as osp

    from sair_toolbox.utils.errors import DataError
    from sair_toolbox.visualization.curves import read_scalars
    if run.get('curves'):
        return {k: [(int(s), float(v)) for s, v in points] for k, points in run['curves'].items()}
    work_dir = run.get('work_dir')
    if not work_dir or not osp.isdir(work_dir):
        return {}
    try:
        scalars = dict(read_scalars(work_dir))
    except DataError:  # no scalar log (yet)
        return {}
    final = run.get('metrics', {}).get(FINAL_KEY)
    logged = scalars.get(FINAL_KEY)
    if final is not None and (not logged or abs(logged[-1][1] - float(final)) > 1e-6):
        return {}  # the work dir holds another run's log
    return scalars


def levelling(results: Mapping[str, Mapping], key: str = 'all/PSNR',
              fraction: float = 0.2, level: float = LEVEL_DB) -> Dict[str, Dict]:
    """Per row: the val-``key`` change over the last ``fraction`` of training, per seed and as
    mean ± std, and whether the mean's magnitude is below ``level``.

    Args:
        results: ``{row: {'runs': {seed: run}}}`` (:func:`~sair_toolbox.experiments.
            demo_tables.run_demo_tables`); each run's curves come from :func:`run_scalars`,
            and runs without a val curve are skipped.
        key: the val scalar.
        fraction: the tail of training.
        level: the threshold (dB for PSNR).

    Returns:
        ``{row: {'per_seed': {seed: change}, 'mean', 'std', 'levelled', 'key', 'fraction',
        'level', 'fitted'}}`` for the rows with at least one measured run; ``fitted`` is
        :func:`fitted_change` as ``{'per_seed', 'mean', 'std'}`` (None with too few points).
    """
    out: Dict[str, Dict] = {}
    for name, row in results.items():
        curves = {seed: run_scalars(run).get(key, [])
                  for seed, run in row.get('runs', {}).items()}
        summary = _tail_summary(curves, fraction)
        if summary is None:
            continue
        out[name] = dict(summary, levelled=abs(summary['mean']) < level, key=key,
                         fraction=fraction, level=level)
    return out


def _tail_summary(curves: Mapping, fraction: float) -> Optional[Dict]:
    """End-point and fitted change over the tail of each seed's curve, mean ± std over seeds
    (``{'per_seed', 'mean', 'std', 'fitted'}``; None when no curve has a tail)."""
    from .stats import mean_std

    def summarise(per_seed):
        if not per_seed:
            return None
        mean, std = mean_std(per_seed.values())
        return dict(per_seed=per_seed, mean=mean, std=std if len(per_seed) > 1 else None)
    ends = {s: last_fraction_change(c, fraction) for s, c in curves.items()}
    fits = {s: fitted_change(c, fraction) for s, c in curves.items()}
    out = summarise({s: v for s, v in ends.items() if v is not None})
    if out is None:
        return None
    out['fitted'] = summarise({s: v for s, v in fits.items() if v is not None})
    return out


#: The paired comparisons whose val curves the convergence check follows.
CURVE_PAIRS = (('SAIR', 'LIIF'), )


def difference_levelling(results: Mapping[str, Mapping], pairs=CURVE_PAIRS,
                         key: str = 'all/PSNR', fraction: float = 0.2,
                         level: float = LEVEL_DB) -> Dict[str, Dict]:
    """Has the *difference* between two rows levelled off? Per seed, the curve ``a - b`` of
    val ``key`` at the val points both runs logged (:func:`difference_curve`); its value at the
    end and its change over the last ``fraction``, as :func:`levelling` gives for one row.

    Args:
        results: as for :func:`levelling`.
        pairs: ``(a, b)`` row names; pairs with a missing row or no common seed are skipped.
        key, fraction, level: as for :func:`levelling`.

    Returns:
        ``{'a − b': {'per_seed', 'mean', 'std', 'fitted', 'final': {'per_seed', 'mean',
        'std'}, 'levelled', 'key', 'fraction', 'level'}}``.
    """
    from .stats import mean_std
    out: Dict[str, Dict] = {}
    for a, b in pairs:
        runs_a = results.get(a, {}).get('runs', {})
        runs_b = results.get(b, {}).get('runs', {})
        curves = {}
        for seed in runs_a:
            if seed in runs_b:
                curve = difference_curve(run_scalars(runs_a[seed]).get(key, []),
                                         run_scalars(runs_b[seed]).get(key, []))
                if curve:
                    curves[seed] = curve
        summary = _tail_summary(curves, fraction)
        if summary is None:
            continue
        finals = {seed: curve[-1][1] for seed, curve in curves.items()}
        mean, std = mean_std(finals.values())
        summary['final'] = dict(per_seed=finals, mean=mean,
                                std=std if len(finals) > 1 else None)
        out[f'{a} \u2212 {b}'] = dict(summary, levelled=abs(summary['mean']) < level,
                                      key=key, fraction=fraction, level=level)
    return out


def format_levelling(level: Mapping[str, Mapping],
                     differences: Optional[Mapping[str, Mapping]] = None) -> str:
    """Markdown for :func:`levelling` and :func:`difference_levelling` (``''`` when nothing
    was measured)."""
    if not level:
        return ''
    from .stats import format_mean_std
    first = next(iter(level.values()))

    def cell(info):
        return format_mean_std(info['mean'], info['std'], digits=3) if info else '-'

    def seeds(info):  # each seed's change, and how many of them are below the level
        per_seed = info['per_seed']
        values = ', '.join(f'{seed}: {per_seed[seed]:+.3f}'.replace('-', '\u2212')
                           for seed in sorted(per_seed))
        below = sum(abs(v) < info.get('level', LEVEL_DB) for v in per_seed.values())
        return f'{values} | {below} of {len(per_seed)}'
    lines: List[str] = [
        '', f'**Convergence**: change of val {first["key"]} over the last '
        f'{first["fraction"]:.0%} of training (last val point minus the point at '
        f'{1 - first["fraction"]:.0%}), mean ± std over seeds; levelled off when the mean is '
        f'below {first["level"]} in magnitude ("seeds below": how many seeds\' own changes are). '
        'Fitted: the same change read off a least-squares line '
        'through every val point of that tail (less noisy than two single points; a supplement, '
        'not the criterion).', '',
        '| Row | change | fitted change | per seed | seeds below | levelled off |',
        '|---|---|---|---|---|---|']
    for name, info in level.items():
        lines.append(f'| {name} | {cell(info)} | {cell(info.get("fitted"))} | {seeds(info)} | '
                     f'{"yes" if info["levelled"] else "no"} |')
    if differences:
        lines += ['', f'The paired difference of the val curves (per seed, at the same val '
                  f'points), its value at the end and its change over the last '
                  f'{first["fraction"]:.0%}:', '',
                  '| Difference | at the end | change | fitted change | per seed | seeds below '
                  '| levelled off |', '|---|---|---|---|---|---|---|']
        for name, info in differences.items():
            lines.append(f'| {name} | {cell(info["final"])} | {cell(info)} | '
                         f'{cell(info.get("fitted"))} | {seeds(info)} | '
                         f'{"yes" if info["levelled"] else "no"} |')
    return '\n'.join(lines) + '\n'
