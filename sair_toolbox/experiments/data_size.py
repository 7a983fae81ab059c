"""When does semantics pay? SAIR − LIIF against the inpainter's training-set size.

In the paper the frozen encoder (CLIP) has seen vastly more data than the inpainter (28k
faces); in the demo world the demo CLIP saw 2000 scenes and the inpainter 400. This sweep keeps
the encoder, the schedule, the val images and the seeds fixed and trains SAIR and LIIF on
``sizes`` training scenes (nested sets: scene ``i`` depends only on ``(seed, i)``,
:func:`~sair_toolbox.experiments.demo_tables.set_num_train`), once per seed, with
:func:`~sair_toolbox.experiments.demo_tables.run_demo_tables`. It writes into ``out_dir``:

* ``n<size>/``: each size's own ``tables.md`` and ``results.json``;
* ``sweep.md`` and ``sweep.json``: per size, SAIR and LIIF PSNR (mean ± std over seeds) and
  the paired difference SAIR − LIIF with its 95 % interval, per bin;
* ``datasize_sweep.png``: the difference against the size, with the intervals.

The size of the demo configs (400) can be taken from a finished seeded table
(``reuse_dir``, e.g. ``results/demo_tables``) when its schedule, seeds and val images match.

    from sair_toolbox.experiments.data_size import run_data_size_sweep
    run_data_size_sweep('results/demo_datasize', sizes=(50, 100, 400, 1600))

``tools/data_size_sweep.py`` is the command-line front end.
"""
import os
import os.path as osp
from typing import Callable, Dict, Mapping, Optional, Sequence

from sair_toolbox.utils.errors import ConfigError

from .demo_tables import (DEFAULT_NUM_VAL, DEFAULT_SEEDS, DEMO_NUM_TRAIN, compare_rows,
                          forget_table, load_results, run_demo_tables, summarize)
from .resume import write_json_atomic, write_text_atomic

#: The sweep's training-set sizes (scenes).
SIZES = (50, 100, 400, 1600)
#: The rows compared.
PAIR = ('SAIR', 'LIIF')
#: Bins of the sweep table and plot.
SWEEP_BINS = ('0-20', '20-40', '40-60', 'all')


def load_table_results(reuse_dir: str, iters: int, seeds: Sequence[int],
                       num_val: Optional[int], num_train: int,
                       names: Sequence[str] = PAIR,
                       lr_schedule: str = 'step') -> Optional[Dict[str, Dict]]:
    """The rows ``names`` of a finished ``run_demo_tables`` output
    (:func:`~sair_toolbox.experiments.demo_tables.load_results`) when it ran the same schedule
    (length and learning-rate shape), val images and training-set size, without config
    overrides, and has every seed of every row with its per-image scores; else None."""
    if not osp.isfile(osp.join(reuse_dir, 'results.json')):
        return None
    results, setting = load_results(reuse_dir)
    if (setting['iters'] != iters or setting['num_val'] != (num_val or 40)
            or setting['num_train'] != num_train or setting['lr_schedule'] != lr_schedule
            or setting['cfg_options']):
        return None
    out = {}
    for name in names:
        runs = results.get(name, {}).get('runs', {})
        if not all('metrics' in runs.get(s, {}) and runs[s].get('per_image') for s in seeds):
            return None
        out[name] = dict(results[name], runs={s: runs[s] for s in seeds})
    return out


def sweep_summary(per_size: Mapping[int, Mapping[str, Dict]],
                  pair: Sequence[str] = PAIR) -> Dict[int, Dict]:
    """Per size: each row's mean ± std PSNR per bin and the paired difference ``a − b``.

    Args:
        per_size: ``{size: run_demo_tables results}``.
        pair: ``(a, b)``.

    Returns:
        ``{size: {'rows': {row: {'<bin>/PSNR': {'mean', 'std', 'num_seeds'}}},
        'difference': {bin: PairedComparison.to_dict()}}}``.
    """
    a, b = pair
    out = {}
    for size, results in sorted(per_size.items()):
        summary = summarize(results)
        comparison = compare_rows({n: results[n] for n in pair if n in results})
        label = f'{a} \u2212 {b}'
        diff = comparison.get(label, {}).get('PSNR', {})
        out[size] = dict(
            rows={n: {f'{g}/PSNR': summary[n][f'{g}/PSNR'] for g in SWEEP_BINS
                      if f'{g}/PSNR' in summary.get(n, {})} for n in pair if n in summary},
            difference={g: c.to_dict() for g, c in diff.items()})
    return out


def format_sweep(summary: Mapping[int, Dict], pair: Sequence[str] = PAIR) -> str:
    """Markdown of :func:`sweep_summary`: one row per size."""
    from .stats import _signed, format_mean_std
    a, b = pair
    head = ['training scenes'] + [f'{n} all PSNR' for n in pair] + [
        f'{a} − {b} {g}' for g in SWEEP_BINS] + ['seeds']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for size, info in summary.items():
        cells = []
        for n in pair:
            s = info['rows'].get(n, {}).get('all/PSNR')
            cells.append(format_mean_std(s['mean'], s['std'] if s['num_seeds'] > 1 else None)
                         if s else '-')
        seeds = 0
        for g in SWEEP_BINS:
            d = info['difference'].get(g)
            if d is None:
                cells.append('-')
                continue
            low, high = d['interval']
            cells.append(f'{_signed(d["mean"], 2)} dB [{_signed(low, 2)}, {_signed(high, 2)}] '
                         + ('(*)' if d['distinguishable'] else '(n.s.)'))
            seeds = d['num_seeds']
        lines.append(f'| {size} | ' + ' | '.join(cells) + f' | {seeds} |')
    return '\n'.join(lines)


def plot_sweep(summary: Mapping[int, Dict], out_path: str, pair: Sequence[str] = PAIR,
               bins: Sequence[str] = ('all', '40-60')) -> None:
    """``datasize_sweep.png``: left, ``a − b`` PSNR against the training-set size (log x)
    with the 95 % intervals per bin; right, each row's all-images PSNR, mean ± std."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    sizes = list(summary)
    fig = Figure(figsize=(11, 3.9), layout='constrained')
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    for k, g in enumerate(bins):
        points = [(n, summary[n]['difference'][g]) for n in sizes
                  if g in summary[n]['difference']]
        if not points:
            continue
        xs = [n * (1.04 ** (k - (len(bins) - 1) / 2)) for n, _ in points]  # dodge
        means = [d['mean'] for _, d in points]
        errs = [[d['mean'] - d['interval'][0] for _, d in points],
                [d['interval'][1] - d['mean'] for _, d in points]]
        left.errorbar(xs, means, yerr=errs, marker='o', capsize=3, label=f'{g} (95 % CI)')
    left.axhline(0, color='grey', linewidth=0.8)
    left.set_xscale('log')
    left.set_xticks(sizes, [str(n) for n in sizes])
    left.set_xlabel('inpainter training scenes (encoder fixed)')
    left.set_ylabel(f'{pair[0]} − {pair[1]} PSNR (dB)')
    left.grid(True, alpha=0.3)
    left.legend(fontsize='small')
    for name in pair:
        pts = [(n, summary[n]['rows'][name]['all/PSNR']) for n in sizes
               if name in summary[n]['rows'] and 'all/PSNR' in summary[n]['rows'][name]]
        if pts:
            right.errorbar([n for n, _ in pts], [s['mean'] for _, s in pts],
                           yerr=[s['std'] or 0.0 for _, s in pts], marker='o', capsize=3,
                           label=f'{name} (mean ± std)')
    right.set_xscale('log')
    right.set_xticks(sizes, [str(n) for n in sizes])
    right.set_xlabel('inpainter training scenes')
    right.set_ylabel('val PSNR, all images (dB)')
    right.grid(True, alpha=0.3)
    right.legend(fontsize='small')
    fig.suptitle('Demo world: does semantics pay more with less inpainter data?')
    fig.savefig(out_path, dpi=120)


def run_data_size_sweep(out_dir: str = 'results/demo_datasize',
                        work_root: str = 'work_dirs/demo_datasize',
                        sizes: Sequence[int] = SIZES,
                        seeds: Sequence[int] = DEFAULT_SEEDS,
                        iters: int = 200,
                        num_val: Optional[int] = DEFAULT_NUM_VAL,
                        reuse_dir: Optional[str] = 'results/demo_tables',
                        log: Callable[[str], None] = print, jobs: int = 1,
                        threads: Optional[int] = None,
                        lr_schedule: str = 'step', fresh: bool = False,
                        ckpt_interval: Optional[int] = None) -> Dict[int, Dict]:
    """Train SAIR and LIIF at every size and seed; write the sweep's table, JSON and plot.

    Args:
        out_dir: output folder (see the module doc).
        work_root: parent of the runs' work dirs (``<work_root>/n<size>/seed<s>/...``).
        sizes: training scenes per run (distinct positive integers).
        seeds: table seeds.
        iters: the common schedule (:func:`~sair_toolbox.experiments.demo_tables.
            schedule_options`), the same for every size: a fixed budget, so smaller sets are
            seen for more epochs.
        num_val: val images (the same images for every size).
        reuse_dir: a seeded demo-tables output whose SAIR and LIIF runs stand in for the size
            they were trained on, when they match (:func:`load_table_results`); None: never.
        log: progress printer.
        jobs, threads: runs at a time and torch threads per run
            (:func:`~sair_toolbox.experiments.demo_tables.run_demo_tables`).
        lr_schedule: the common learning-rate shape (:func:`~sair_toolbox.experiments.
            demo_tables.lr_scheduler_cfg`; ``'paper'`` for the converged runs).
        fresh, ckpt_interval: as :func:`~sair_toolbox.experiments.demo_tables.
            run_demo_tables`: a stopped sweep continues when called again (each size's
            table continues; a finished one trains nothing); ``fresh`` first clears every
            size's own table (:func:`~sair_toolbox.experiments.demo_tables.forget_table`),
            so that a fresh sweep stopped early continues itself, not the old one;
            ``reuse_dir`` is only read either way.

    Returns:
        :func:`sweep_summary` of all sizes.

    Raises:
        ConfigError: bad or repeated sizes.
    """
    sizes = list(sizes)
    if (not sizes or len(set(sizes)) != len(sizes)
            or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes)):
        raise ConfigError(f'sizes must be distinct positive integers, got {sizes}')
    os.makedirs(out_dir, exist_ok=True)
    per_size: Dict[int, Dict] = {}
    summary: Dict[int, Dict] = {}
    reused_sizes = []
    from_reuse = {size: load_table_results(reuse_dir, iters, seeds, num_val, size,
                                           lr_schedule=lr_schedule) if reuse_dir else None
                  for size in sorted(sizes)}
    if fresh:  # every size's own table first: a fresh sweep stopped early continues itself
        for size, reused in from_reuse.items():
            if reused is None:
                forget_table(osp.join(out_dir, f'n{size}'), osp.join(work_root, f'n{size}'))
    for size in sorted(sizes):
        reused = from_reuse[size]
        if reused is not None:
            log(f'data_size_sweep: {size} scenes: SAIR and LIIF taken from {reuse_dir}')
            per_size[size] = reused
            reused_sizes.append(size)
        else:
            log(f'data_size_sweep: {size} scenes')
            per_size[size] = run_demo_tables(
                osp.join(out_dir, f'n{size}'), osp.join(work_root, f'n{size}'), iters,
                list(PAIR), log=log, seeds=seeds, num_val=num_val,
                num_train=None if size == DEMO_NUM_TRAIN else size, jobs=jobs,
                threads=threads, lr_schedule=lr_schedule, ckpt_interval=ckpt_interval)
        summary = sweep_summary(per_size)
        write_json_atomic(osp.join(out_dir, 'sweep.json'),
                          dict(iters=iters, lr_schedule=lr_schedule, seeds=list(seeds),
                               num_val=num_val, sizes=sizes,
                               reused={str(n): reuse_dir for n in reused_sizes},
                               summary={str(n): v for n, v in summary.items()}), indent=2)
        shape = '' if lr_schedule == 'step' else f' ({lr_schedule} learning-rate schedule)'
        write_text_atomic(
            osp.join(out_dir, 'sweep.md'),
            f'SAIR vs LIIF against the inpainter\'s training-set size: {iters} '
            f'iterations{shape} for every size, seeds {", ".join(map(str, seeds))}, '
            f'{num_val or 40} val images (the same for every size), the demo CLIP '
            'fixed. Differences: mean over seeds, 95 % interval (paired t over seeds '
            '∪ hierarchical bootstrap); (*) excludes zero.\n\n'
            + format_sweep(summary) + '\n')
        plot_sweep(summary, osp.join(out_dir, 'datasize_sweep.png'))
    return summary
