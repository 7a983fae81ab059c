"""The paper's figures in miniature: Fig. 3 (zero-shot label maps) and Fig. 4 (curves).

Both draw with matplotlib (imported inside the functions) from what the demo tables runner
(:mod:`sair_toolbox.experiments.demo_tables`) keeps: a trained model with its test loader and
class embeddings (Fig. 3), and the runs' work dirs of every seed (Fig. 4, mean ± std bands).
"""
from typing import Dict, Sequence, Tuple

import numpy as np
import torch


def figure3(result: Dict, out_path: str, num_images: int = 4, mask_bin: str = '40-60') -> None:
    """Fig. 3: masked input | zero-shot labels of the masked image's features | of the SIR
    field | ground truth, for the first ``num_images`` test images of ``mask_bin``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sair_toolbox.visualization.label_maps import colorize_labels, zero_shot_label_map
    model, loader, text = result['_model'], result['_loader'], result['_text']
    palette = loader.dataset.metainfo.get('palette')
    rows = []
    model.eval()
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            img, samples = data['inputs'], data['data_samples']
            for i, s in enumerate(samples):
                if s.metainfo.get('mask_bin') != mask_bin or len(rows) >= num_images:
                    continue
                x, m = img[i:i + 1], s.mask[None].to(img)
                without = zero_shot_label_map(model.semantic_features(x, m, use_sir=False),
                                              text)[0]
                with_sir = zero_shot_label_map(model.semantic_features(x, m, use_sir=True),
                                               text)[0]
                masked = (x[0] * (1 - m[0])).permute(1, 2, 0).cpu().numpy()
                masked = np.where(m[0, 0, ..., None].cpu().numpy() > 0.5, 1.0, masked)
                gt = s.gt_sem_seg.data if hasattr(s.gt_sem_seg, 'data') else s.gt_sem_seg
                rows.append([masked, colorize_labels(without, palette),
                             colorize_labels(with_sir, palette),
                             colorize_labels(torch.as_tensor(gt).reshape(x.shape[-2:]),
                                             palette)])
            if len(rows) >= num_images:
                break
    titles = ['masked input', 'labels of Z_sem(masked)', 'labels of the SIR field',
              'ground truth']
    fig = Figure(figsize=(8, 2.1 * len(rows)), layout='constrained')
    FigureCanvasAgg(fig)
    image_grid(fig.subplots(len(rows), 4, squeeze=False), rows, titles, fontsize=9)
    fig.savefig(out_path, dpi=120)


def image_grid(axes, rows: Sequence[Sequence[np.ndarray]], titles: Sequence[str],
               fontsize: int = 9) -> None:
    """Draw ``rows`` of (H, W[, 3]) images into a 2-D array of axes, without ticks, with the
    column ``titles`` over the first row."""
    for r, row in enumerate(rows):
        for c, im in enumerate(row):
            axes[r, c].imshow(im, interpolation='nearest')
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(titles[c], fontsize=fontsize)


def seed_band(curves: Sequence[Sequence[Tuple[int, float]]]
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and sample std over seeds of one curve, on the steps every seed logged.

    Args:
        curves: per seed, ``[(step, value), ...]`` (:func:`~sair_toolbox.visualization.curves.
            read_scalars` of one key).

    Returns:
        ``(steps, mean, std)``, each ``(n,)``; ``std`` is 0 with one seed.
    """
    common = sorted(set.intersection(*(set(s for s, _ in c) for c in curves))) if curves \
        else []
    values = np.array([[dict(c)[s] for s in common] for c in curves], dtype=np.float64)
    if not common:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    std = values.std(axis=0, ddof=1) if len(curves) > 1 else np.zeros(len(common))
    return np.asarray(common), values.mean(axis=0), std


def figure4(results: Dict[str, Dict], out_path: str, names=('LIIF', 'SAIR'),
            keys=('all/PSNR', 'loss_rec'), smooth: int = 3) -> bool:
    """Fig. 4: validation PSNR and training reconstruction loss against iteration, mean over
    seeds with a ± 1 std band, from the runs' kept curves or their own MMEngine scalar logs
    (:func:`~sair_toolbox.experiments.convergence.run_scalars`); with two rows, a third panel
    shows their paired difference in the first key (per seed at the same val points, mean ±
    std over seeds; :func:`~sair_toolbox.experiments.convergence.difference_curve`).

    Args:
        results: ``{row: {'runs': {seed: run}}}`` (the demo tables runner's).
        out_path: the PNG to write.
        names: the rows to draw (those missing are skipped); the difference is
            ``names[1] - names[0]``.
        keys: the scalar keys, one panel each (a row without a key is left out of its panel).
        smooth: trailing moving-average window for loss keys, per seed before averaging.

    Returns:
        Whether it was drawn (False, and ``out_path`` left alone, when no run has a curve: e.g.
        a results.json of runs that kept none, whose work dirs are gone).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sair_toolbox.visualization.curves import moving_average

    from .convergence import difference_curve, run_scalars
    scalars = {n: {s: run_scalars(r) for s, r in results[n]['runs'].items()}
               for n in names if n in results and results[n]['runs']}
    if not any(run.get(key) for runs in scalars.values() for run in runs.values()
               for key in keys):
        return False
    diffs = []
    if len(names) == 2 and all(n in scalars for n in names):
        first, second = (scalars[n] for n in names)
        diffs = [d for d in (difference_curve(second[s].get(keys[0], []),
                                              first[s].get(keys[0], []))
                             for s in second if s in first) if d]
    num_seeds = max((len(v) for v in scalars.values()), default=0)
    panels = len(keys) + bool(diffs)
    fig = Figure(figsize=(5.5 * panels, 3.8), layout='constrained')
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False)[0]

    def band(ax, curves, label):
        steps, mean, std = seed_band(curves)
        line, = ax.plot(steps, mean, label=label, marker='o' if len(steps) < 30 else None,
                        markersize=3, linewidth=1.3)
        if len(curves) > 1:
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.25,
                            linewidth=0)

    for ax, key in zip(axes, keys):
        for name, runs in scalars.items():
            curves = [run[key] for run in runs.values() if run.get(key)]
            if not curves:
                continue
            if key.startswith('loss') and smooth > 1:
                curves = [list(zip([s for s, _ in c], moving_average([v for _, v in c], smooth)))
                          for c in curves]
            n = len(curves)
            band(ax, curves, f'{name} ({n} seed{"s" if n != 1 else ""})')
        ax.set_ylabel(key + (f' (mean of {smooth})' if key.startswith('loss') and smooth > 1
                             else ''))
    if diffs:
        ax = axes[-1]
        ax.axhline(0.0, color='gray', linewidth=0.8)
        band(ax, diffs, f'{names[1]} \u2212 {names[0]} ({len(diffs)} seed'
                        f'{"s" if len(diffs) != 1 else ""}, paired)')
        ax.set_ylabel(f'{keys[0]} difference')
    for ax in axes:
        ax.set_xlabel('iteration')
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a run with a single val point draws no line
            ax.legend(fontsize='small')
    fig.suptitle(f'Fig. 4 (demo): {" vs ".join(scalars)}, mean ± std over '
                 f'{num_seeds} seed{"s" if num_seeds != 1 else ""}')
    fig.savefig(out_path, dpi=120)
    return True


def pick_val_images(dataset, num_images: int = 4, bins: Sequence[str] = ('20-40', '40-60')
                    ) -> list:
    """The first ``num_images`` val samples whose mask falls in ``bins``, taken in turn from
    each bin (``[(image (3, H, W) in [0, 1], mask (1, H, W), img_path), ...]``)."""
    from sair_toolbox.models.data_preprocessor import build_data_preprocessor
    pre = build_data_preprocessor(None)
    by_bin = {b: [] for b in bins}
    for i in range(len(dataset)):
        sample = dataset[i]
        meta = sample['data_samples'].metainfo
        b = meta.get('mask_bin')
        if b in by_bin and len(by_bin[b]) < num_images:
            data = pre(dict(inputs=[sample['inputs']], data_samples=[sample['data_samples']]),
                       False)
            by_bin[b].append((data['inputs'][0], data['data_samples'][0].mask,
                              meta.get('img_path')))
        if all(len(v) >= num_images for v in by_bin.values()):
            break
    picked = []
    while len(picked) < num_images and any(by_bin.values()):
        for b in bins:
            if by_bin[b] and len(picked) < num_images:
                picked.append(by_bin[b].pop(0))
    return picked


def fills_figure(models: Dict[str, torch.nn.Module], images: list, out_path: str,
                 title: str = '') -> None:
    """The same val images filled by several models side by side: masked input | one column
    per model (the composite at the input size) | ground truth.

    Args:
        models: ``{column title: model with inpaint(img, mask)}`` in column order.
        images: from :func:`pick_val_images`.
        out_path: the PNG to write.
        title: the figure's title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    columns = ['masked input'] + list(models) + ['ground truth']
    fig = Figure(figsize=(1.7 * len(columns), 1.8 * len(images) + 0.4), layout='constrained')
    FigureCanvasAgg(fig)
    rows = []
    with torch.no_grad():
        for img, mask, _ in images:
            x, m = img[None], mask[None].to(img)
            masked = np.where(m[0, 0, ..., None].numpy() > 0.5, 1.0,
                              (x[0] * (1 - m[0])).permute(1, 2, 0).numpy())
            row = [masked]
            for model in models.values():
                model.eval()
                row.append(model.inpaint(x, m)[0].clamp(0, 1).permute(1, 2, 0).numpy())
            row.append(x[0].permute(1, 2, 0).numpy())
            rows.append(row)
    image_grid(fig.subplots(len(images), len(columns), squeeze=False), rows, columns,
               fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(out_path, dpi=120)
