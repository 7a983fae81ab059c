"""Training curves (validation PSNR, training loss, ...) from MMEngine's scalar logs.

MMEngine's ``LocalVisBackend`` writes one JSON record per line to
``<work_dir>/<timestamp>/vis_data/scalars.json``: a training record every ``LoggerHook.interval``
iterations (``loss``, ``loss_*``, ``lr``, ``time``, ..., with ``iter`` and ``step``) and a
validation record after every validation (the metric keys, e.g. ``all/PSNR``, and ``step``). Each
start of ``tools/train.py`` in the same work dir (a resumed run) adds a timestamp folder.

Interface (stable; used by ``tools/plot_curves.py`` and the paper-figure scripts)::

    scalars = read_scalars('work_dirs/sair_demo')     # {key: [(step, value), ...]}, sorted
    runs = load_runs(['work_dirs/liif_demo', 'work_dirs/sair_demo'])  # {label: scalars}
    plot_curves(runs, ['all/PSNR', 'loss'], 'curves.png')

matplotlib is imported inside :func:`plot_curves` only.
"""
import glob
import json
import math
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from sair_toolbox.utils.errors import ConfigError, DataError

#: ``{key: [(step, value), ...]}`` sorted by step, one value per step.
Scalars = Dict[str, List[Tuple[int, float]]]

#: The keys ``tools/plot_curves.py`` draws by default: validation PSNR over all images and the
#: total training loss.
DEFAULT_KEYS = ('all/PSNR', 'loss')

# Bookkeeping entries of every record, not curves.
_NOT_CURVES = ('step', 'iter', 'epoch')


def find_scalar_logs(work_dir: str) -> List[str]:
    """The ``vis_data/scalars.json`` files of a run, oldest first.

    Args:
        work_dir: a work dir (holding ``<timestamp>/vis_data/scalars.json``, one per start of the
            run), one timestamp folder of it, or a ``scalars.json`` file itself.

    Returns:
        Paths sorted by their timestamp folder name (MMEngine's ``%Y%m%d_%H%M%S``, which sorts
        chronologically).

    Raises:
        DataError: nothing to read there.
    """
    if osp.isfile(work_dir):
        return [work_dir]
    if not osp.isdir(work_dir):
        raise DataError(f'work dir {work_dir} does not exist')
    own = osp.join(work_dir, 'vis_data', 'scalars.json')
    if osp.isfile(own):
        return [own]
    logs = sorted(glob.glob(osp.join(glob.escape(work_dir), '*', 'vis_data', 'scalars.json')))
    if not logs:
        raise DataError(f'no */vis_data/scalars.json under {work_dir} (MMEngine writes it with '
                        "LocalVisBackend, the default visualizer's backend)")
    return logs


def _read_log(path: str) -> Scalars:
    """``{key: [(step, value), ...]}`` of one scalars.json, in file order."""
    curves: Scalars = OrderedDict()
    last_train_step = None
    with open(path, encoding='utf-8') as f:
        for line in f:
            try:
                record = json.loads(line)
                step = int(record['step'])
            except (ValueError, KeyError, TypeError):
                # A run killed while writing leaves a truncated last line: skip it, keep the rest.
                continue
            if 'iter' in record:  # a training record
                last_train_step = step
            elif last_train_step is not None and step < last_train_step:
                # A validation record of an iteration-based run logged with MMEngine's default
                # ``LoggerHook(log_metric_by_epoch=True)`` carries step = epoch (0). It is written
                # right after the training iteration it follows; use that iteration instead.
                step = last_train_step
            for key, value in record.items():
                if key in _NOT_CURVES or isinstance(value, bool) or not isinstance(
                        value, (int, float)):
                    continue
                curves.setdefault(key, []).append((step, float(value)))
    return curves


def read_scalars(work_dir: str) -> Scalars:
    """Every scalar curve of a run, merged over its restarts.

    A resumed run restarts from its last checkpoint, which may lie before the last step the
    previous start logged: for each key, a later log replaces the earlier log's values from its
    own first step on, so the result is the history the final weights actually went through.

    Args:
        work_dir: see :func:`find_scalar_logs`.

    Returns:
        ``{key: [(step, value), ...]}``, each list sorted by step with one value per step
        (the last one written). Keys include ``loss`` (and the ``loss_*`` terms), ``lr`` and the
        validation metrics (``all/PSNR``, ``0-20/SSIM``, ...).

    Raises:
        DataError: no scalar log under ``work_dir``.
    """
    merged: Dict[str, Dict[int, float]] = OrderedDict()
    for path in find_scalar_logs(work_dir):
        for key, points in _read_log(path).items():
            if not points:
                continue
            start = points[0][0]
            kept = {s: v for s, v in merged.get(key, {}).items() if s < start}
            kept.update(points)
            merged[key] = kept
    return OrderedDict((key, sorted(points.items())) for key, points in merged.items())


def run_label(work_dir: str) -> str:
    """A run's legend label: the work dir's name (e.g. ``work_dirs/sair_demo`` -> ``sair_demo``)."""
    return osp.basename(osp.normpath(work_dir)) or work_dir


def load_runs(work_dirs: Sequence[str],
              labels: Optional[Sequence[str]] = None) -> 'OrderedDict[str, Scalars]':
    """:func:`read_scalars` of several runs, keyed by label.

    Args:
        work_dirs: the runs' work dirs.
        labels: legend labels, one per work dir (default: :func:`run_label`; a repeated name gets
            its parent folder prepended, ``a/sair_demo`` and ``b/sair_demo``).

    Returns:
        ``{label: scalars}`` in the order given.
    """
    if labels is not None and len(labels) != len(work_dirs):
        raise ConfigError(f'{len(labels)} labels for {len(work_dirs)} work dirs')
    if labels is None:
        names = [run_label(w) for w in work_dirs]
        labels = [(f'{run_label(osp.dirname(osp.normpath(w)))}/{name}'
                   if names.count(name) > 1 else name) for w, name in zip(work_dirs, names)]
    runs: 'OrderedDict[str, Scalars]' = OrderedDict()
    for label, work_dir in zip(labels, work_dirs):
        if label in runs:
            raise ConfigError(f'two runs share the label {label!r}')
        runs[label] = read_scalars(work_dir)
    return runs


def moving_average(values: Sequence[float], window: int) -> List[float]:
    """Trailing mean over the last ``window`` values (the first values average what exists)."""
    if window <= 1:
        return list(values)
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_curves(runs: Mapping[str, Scalars],
                keys: Sequence[str] = DEFAULT_KEYS,
                out_path: Optional[str] = None,
                smooth: int = 1,
                title: Optional[str] = None,
                log_y: Sequence[str] = ()):
    """Draw each key against the step, one panel per key, one line per run.

    Args:
        runs: ``{label: scalars}`` (:func:`load_runs`, or ``{name: read_scalars(dir)}``).
        keys: the curves to draw, e.g. ``('all/PSNR', 'loss')``. A run without a key is left out
            of that panel; a key that no run has is an error.
        out_path: where to save the figure (format from the extension: .png, .pdf, .svg, ...);
            ``None`` only returns the figure.
        smooth: trailing moving-average window (in logged points) for keys starting with
            ``loss``; 1 draws the raw values. Validation metrics are never smoothed.
        title: figure title.
        log_y: keys drawn on a logarithmic y axis.

    Returns:
        matplotlib.figure.Figure

    Raises:
        ConfigError: no key given, or a key that no run logged (the message lists the keys
            that exist).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not keys:
        raise ConfigError('plot_curves: no keys to draw')
    for key in keys:
        if not any(scalars.get(key) for scalars in runs.values()):
            available = sorted({k for scalars in runs.values() for k in scalars})
            raise ConfigError(f'no run logged {key!r}; logged keys: {", ".join(available)}')

    cols = min(len(keys), 2)
    rows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(5.5 * cols, 3.8 * rows), layout='constrained')
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, key in zip(axes, keys):
        for label, scalars in runs.items():
            points = scalars.get(key)
            if not points:
                continue
            steps = [s for s, _ in points]
            values = [v for _, v in points]
            if key.startswith('loss') and smooth > 1:
                values = moving_average(values, smooth)
            ax.plot(steps, values, label=label, marker='o' if len(points) < 20 else None,
                    markersize=3, linewidth=1.3)
        if key in log_y:
            ax.set_yscale('log')
        ax.set_xlabel('iteration')
        ax.set_ylabel(key + (f' (mean of {smooth})' if key.startswith('loss') and smooth > 1
                             else ''))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize='small')
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    if out_path is not None:
        fig.savefig(out_path, dpi=120)
    return fig
