"""The seeded miniature tables: mean ± std over seeds per row, and the paper's paired comparisons.

:mod:`sair_toolbox.experiments.demo_tables` trains every row once per seed and keeps, per row
and seed, the flat test metrics (``{'40-60/PSNR': 24.1, ...}``) and the per-image records of
:class:`~sair_toolbox.evaluation.metrics.InpaintingMetric` (``keep_records=True``). This module
turns them into markdown and JSON, with the statistics of :mod:`~sair_toolbox.experiments.stats`:

* :func:`format_seed_table`: one row per model, one cell per (bin, metric), ``mean ± std`` over
  seeds (sample std; the mean alone with one seed);
* :func:`paired_comparisons`: the differences the paper reads off its tables (:data:`PAIRS`),
  paired per (seed, val image), per bin and overall, with the 95 % paired-t and hierarchical
  bootstrap intervals of :func:`~sair_toolbox.experiments.stats.compare_paired`;
* :func:`format_comparison_table`: those as ``+0.21 dB [−0.05, +0.47] (n.s.)`` cells.

Example::

    metrics = {'SAIR': {0: {'all/PSNR': 24.0, ...}, 1: {...}}, 'LIIF': {...}}
    print(format_seed_table(list(metrics.items()), title='Tab. 1 (demo)'))
    cmp = paired_comparisons({'SAIR': {0: records, 1: records}, 'LIIF': {...}})
    print(format_comparison_table(cmp, 'PSNR'))
"""
from typing import Dict, Hashable, List, Mapping, Optional, Sequence, Tuple

from .stats import (PairedComparison, comparison_rows, format_difference, format_mean_std,
                    scores_by_seed, summarize_seeds)

#: The paired differences of the paper, ``(a, b)`` for ``a − b`` (row names of
#: ``demo_tables.VARIANTS``): Tab. 1 (SAIR vs LIIF), Tab. 6 (ablations of the semantic branch,
#: the SAM encoder, the authors' two-stage training), Tab. 4 (semantics added to other
#: implicit representations), and the normalised-field option against SAIR.
PAIRS: Tuple[Tuple[str, str], ...] = (
    ('SAIR', 'LIIF'),
    ('SAIR', 'NFS'),
    ('SAIR', 'OUS'),
    ('SAIR', 'SAIR (SAM)'),
    ('SAIR two-stage', 'SAIR'),
    ('SemLTE', 'LTE'),
    ('SAIR-EDSR', 'EDSR-LIIF'),
    ('SAIR + normalised field', 'SAIR'),
    # Sharp fills: what semantics add under the adversarial objective, what it costs in PSNR.
    ('SAIR GAN', 'LIIF GAN'),
    ('SAIR GAN', 'SAIR'),
    ('LIIF GAN', 'LIIF'),
)
#: The sharp-fills pairs whose set-level metrics (demo-FID, ...) are compared per seed: what
#: semantics add under either objective, what the adversarial objective adds to either model.
GAN_PAIRS: Tuple[Tuple[str, str], ...] = (('SAIR GAN', 'LIIF GAN'), ('SAIR', 'LIIF'),
                                          ('SAIR GAN', 'SAIR'), ('LIIF GAN', 'LIIF'))
#: The hole-ratio bins of the demo tables and the group of all images, in table order.
BINS: Tuple[str, ...] = ('0-20', '20-40', '40-60', 'all')
#: Metrics of the mean ± std tables and their decimals.
TABLE_METRICS: Tuple[Tuple[str, int], ...] = (('PSNR', 2), ('SSIM', 3), ('L1', 4))
#: Metrics of the paired comparisons: ``(name, unit, decimals)``.
COMPARISON_METRICS: Tuple[Tuple[str, str, int], ...] = (('PSNR', 'dB', 2), ('SSIM', '', 3))


def _cell(summary: Mapping[str, Tuple[float, float]], key: str, digits: int,
          num_seeds: int) -> str:
    """``mean ± std``; the mean alone for one seed (a std of 0 would claim no seed noise)."""
    if key not in summary:
        return '-'
    mean, std = summary[key]
    return format_mean_std(mean, std if num_seeds > 1 else None, digits=digits)


def format_seed_table(rows: Sequence[Tuple[str, Mapping[Hashable, Mapping[str, float]]]],
                      title: Optional[str] = None,
                      bins: Sequence[str] = BINS,
                      metrics: Sequence[Tuple[str, int]] = TABLE_METRICS) -> str:
    """A markdown table of mean ± std over seeds: rows = models, columns = (bin, metric).

    Args:
        rows: ``[(name, {seed: flat test metrics}), ...]``; a row's seeds need not match the
            other rows' (its seed count is printed in the last column).
        title: bold line above the table.
        bins: the bin columns, in order (``'all'`` for every image).
        metrics: ``(metric, decimals)`` per bin.

    Returns:
        The table (no trailing newline).
    """
    head = ['Method'] + [f'{b} {m}' for b in bins for m, _ in metrics] + ['seeds']
    lines = [f'**{title}**', ''] if title else []
    lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, by_seed in rows:
        summary = summarize_seeds(by_seed)
        cells = [_cell(summary, f'{b}/{m}', d, len(by_seed)) for b in bins for m, d in metrics]
        lines.append(f'| {name} | ' + ' | '.join(cells) + f' | {len(by_seed)} |')
    return '\n'.join(lines)


def paired_comparisons(per_image: Mapping[str, Mapping[Hashable, Sequence[Mapping]]],
                       pairs: Sequence[Tuple[str, str]] = PAIRS,
                       metrics: Sequence[str] = tuple(m for m, _, _ in COMPARISON_METRICS),
                       bins: Sequence[str] = BINS,
                       **kwargs) -> Dict[str, Dict[str, Dict[str, PairedComparison]]]:
    """The paired differences ``a − b`` of the rows in ``per_image``, per metric and bin.

    Two rows are compared on the seeds both have (a table being written while the runs go on
    holds more seeds of the earlier rows); pairs whose rows are missing are skipped.

    Args:
        per_image: ``{row: {seed: [InpaintingMetric record, ...]}}`` (records with ``bin``,
            ``img_path`` and the metrics).
        pairs: ``(a, b)`` row names (:data:`PAIRS`).
        metrics: record keys to compare (``'PSNR'``, ``'SSIM'``).
        bins: bin names; ``'all'`` takes every image.
        **kwargs: passed to :func:`~sair_toolbox.experiments.stats.compare_paired`
            (``confidence``, ``num_resamples``, ``bootstrap_seed``, ``require``).

    Returns:
        ``{'SAIR − LIIF': {'PSNR': {'0-20': PairedComparison, ..., 'all': ...}, ...}, ...}``
        in the order of ``pairs``.
    """
    out: Dict[str, Dict[str, Dict[str, PairedComparison]]] = {}
    for a, b in pairs:
        if a not in per_image or b not in per_image:
            continue
        common = [s for s in per_image[a] if s in per_image[b]]
        if not common:
            continue
        label = None
        by_metric: Dict[str, Dict[str, PairedComparison]] = {}
        for metric in metrics:
            by_bin: Dict[str, PairedComparison] = {}
            for bin_name in bins:
                mask_bin = None if bin_name == 'all' else bin_name
                scores = {row: scores_by_seed({s: per_image[row][s] for s in common}, metric,
                                              mask_bin=mask_bin)
                          for row in (a, b)}
                [(label, comparison)] = comparison_rows([(a, b)], scores, **kwargs)
                by_bin[bin_name] = comparison
            by_metric[metric] = by_bin
        out[label] = by_metric
    return out


def format_comparison_table(comparisons: Mapping[str, Mapping[str, Mapping[str,
                                                                           PairedComparison]]],
                            metric: str = 'PSNR', unit: str = 'dB', digits: int = 2,
                            bins: Sequence[str] = BINS) -> str:
    """A markdown table of paired differences: rows = pairs, columns = bins.

    Each cell is ``mean [low, high] (*)`` (:func:`~sair_toolbox.experiments.stats.
    format_difference`): ``(*)`` when the difference is distinguishable from zero, ``(n.s.)``
    when it is not.

    Args:
        comparisons: from :func:`paired_comparisons`.
        metric, unit, digits: which metric, its unit and decimals.
        bins: the columns.

    Returns:
        The table (no trailing newline); ``''`` when no pair holds ``metric``.
    """
    rows = [(label, by_metric[metric]) for label, by_metric in comparisons.items()
            if metric in by_metric]
    if not rows:
        return ''
    head = ['Difference'] + list(bins) + ['seeds', 'images (all)']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for label, by_bin in rows:
        cells = [format_difference(by_bin[b], unit=unit, digits=digits) if b in by_bin
                 else '-' for b in bins]
        ref = by_bin.get('all') or next(iter(by_bin.values()))
        lines.append(f'| {label} | ' + ' | '.join(cells)
                     + f' | {ref.num_seeds} | {ref.num_images} |')
    return '\n'.join(lines)


def comparisons_to_dict(comparisons: Mapping[str, Mapping[str, Mapping[str, PairedComparison]]]
                        ) -> Dict[str, Dict[str, Dict[str, dict]]]:
    """JSON-ready form of :func:`paired_comparisons` (``PairedComparison.to_dict`` leaves)."""
    return {label: {metric: {b: c.to_dict() for b, c in by_bin.items()}
                    for metric, by_bin in by_metric.items()}
            for label, by_metric in comparisons.items()}


def comparison_notes(comparisons: Mapping[str, Mapping[str, Mapping[str, PairedComparison]]],
                     metric: str = 'PSNR') -> List[str]:
    """One sentence per pair: which bins' differences are distinguishable from zero."""
    notes = []
    for label, by_metric in comparisons.items():
        by_bin = by_metric.get(metric)
        if not by_bin:
            continue
        sig = [b for b, c in by_bin.items() if c.distinguishable]
        notes.append(f'{label}: ' + (f'distinguishable from zero in {", ".join(sig)}' if sig
                                     else 'not distinguishable from zero in any bin'))
    return notes


def format_seed_differences(metrics: Mapping[str, Mapping[Hashable, Mapping[str, float]]],
                            pairs: Sequence[Tuple[str, str]], names: Sequence[str],
                            bins: Sequence[str] = BINS, digits: int = 3) -> str:
    """Paired differences of set-level metrics (FID, KID, P-IDS: one number per run, no
    per-image score), ``a − b`` per seed, as ``mean [t interval]`` over the common seeds.

    Args:
        metrics: ``{row: {seed: flat test metrics}}``.
        pairs: ``(a, b)`` row names; pairs with a missing row are skipped.
        names: metric names (``'demo-FID'``); the cells read ``'{bin}/{name}'``.
        bins: the bins per metric.
        digits: decimals.

    Returns:
        A markdown table (rows = pair and metric, columns = bins), ``''`` without pairs.
        ``(*)``: the t interval excludes zero; ``(n.s.)``: it does not; no mark with one seed.
    """
    from .stats import _signed, paired_t_interval
    head = ['Difference', 'metric'] + list(bins) + ['seeds']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for a, b in pairs:
        if a not in metrics or b not in metrics:
            continue
        common = [s for s in metrics[a] if s in metrics[b]]
        for name in names:
            cells = []
            for bin_name in bins:
                key = f'{bin_name}/{name}'
                diffs = [metrics[a][s][key] - metrics[b][s][key] for s in common
                         if key in metrics[a][s] and key in metrics[b][s]]
                if not diffs:
                    cells.append('-')
                    continue
                mean, low, high = paired_t_interval(diffs)
                if len(diffs) < 2:
                    cells.append(_signed(mean, digits))
                    continue
                mark = '(*)' if low > 0 or high < 0 else '(n.s.)'
                cells.append(f'{_signed(mean, digits)} [{_signed(low, digits)}, '
                             f'{_signed(high, digits)}] {mark}')
            lines.append(f'| {a} − {b} | {name} | ' + ' | '.join(cells)
                         + f' | {len(common)} |')
    return '\n'.join(lines) if len(lines) > 2 else ''
