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


def run_scalars(run: Mapping) -> Dict[str, List[Tuple[int, float]]]:
    """The scalar curves of one run: those it kept (``run['curves']``, written into
    ``results.json`` by the demo tables) or, for runs without them, those of its work dir's
    MMEngine log (:func:`~sair_toolbox.visualization.curves.read_scalars`); ``{}`` when
    neither is there.

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
        return dict(read_scalars(work_dir))
    except DataError:  # no scalar log (yet)
        return {}


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
        'level'}}`` for the rows with at least one measured run.
    """
    from .stats import mean_std
    out: Dict[str, Dict] = {}
    for name, row in results.items():
        per_seed = {}
        for seed, run in row.get('runs', {}).items():
            change = last_fraction_change(run_scalars(run).get(key, []), fraction)
            if change is not None:
                per_seed[seed] = change
        if not per_seed:
            continue
        mean, std = mean_std(per_seed.values())
        out[name] = dict(per_seed=per_seed, mean=mean, std=std if len(per_seed) > 1 else None,
                         levelled=abs(mean) < level, key=key, fraction=fraction, level=level)
    return out


def format_levelling(level: Mapping[str, Mapping]) -> str:
    """Markdown for :func:`levelling` (``''`` when nothing was measured)."""
    if not level:
        return ''
    from .stats import format_mean_std
    first = next(iter(level.values()))
    lines: List[str] = [
        '', f'**Convergence**: change of val {first["key"]} over the last '
        f'{first["fraction"]:.0%} of training (last val point minus the point at '
        f'{1 - first["fraction"]:.0%}), mean ± std over seeds; levelled off when below '
        f'{first["level"]} in magnitude.', '',
        '| Row | change | seeds | levelled off |', '|---|---|---|---|']
    for name, info in level.items():
        lines.append(f'| {name} | {format_mean_std(info["mean"], info["std"], digits=3)} | '
                     f'{len(info["per_seed"])} | {"yes" if info["levelled"] else "no"} |')
    return '\n'.join(lines) + '\n'
