"""The paper in miniature: Tab. 1, 4/6 and 5 and Fig. 3 and 4 on the embedded demo world.

Every variant is a config under ``configs/sair/`` (``sair_demo.py`` and small overrides of it in
``configs/sair/ablations/*_demo.py``). :func:`run_demo_tables` trains each of them with one common
schedule (:func:`schedule_options`: the same iterations, learning-rate steps, validation points
and seed for all; nothing is tuned per variant), tests it on the demo val split, and for the
models with a semantic branch also runs the segmentation check (Tab. 5) and the diagnostics of
:func:`semantic_diagnostics`. It writes ``tables.md``, ``results.json`` and the figures
``fig3_label_maps.png`` and ``fig4_curves.png`` into the output folder.

    from sair_toolbox.apis.demo_tables import run_demo_tables
    run_demo_tables('results/demo_tables', iters=200)

``tools/demo_tables.py`` is the command-line front end.
"""
import json
import os
import os.path as osp
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import torch

from sair_toolbox.utils.errors import ConfigError

#: Repository root (the configs live in ``<root>/configs``).
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@dataclass(frozen=True)
class Variant:
    """One row: a display name, its config (relative to the repository root) and its tables.

    Attributes:
        name: row label.
        config: config path relative to :data:`ROOT`.
        tables: the paper tables the row belongs to (``'1'``, ``'4'``, ``'6'``).
        stage_one: name of a variant whose final checkpoint this one loads (``sir.init_cfg``).
        test: whether the run is an inpainting model to test (False for SIR pretraining).
    """
    name: str
    config: str
    tables: Sequence[str] = ()
    stage_one: Optional[str] = None
    test: bool = True


_ABL = 'configs/sair/ablations/'
#: The offline rows of the paper's tables, in training order (Tab. 1 and 6 first; the tables
#: are rewritten after every run, so an interrupted run still leaves the rows it finished).
VARIANTS = (
    Variant('SAIR', 'configs/sair/sair_demo.py', ('1', '4', '6')),
    Variant('LIIF', _ABL + 'liif_demo.py', ('1', '4', '6')),
    Variant('NFS', _ABL + 'sair-nfs_demo.py', ('6',)),
    Variant('OUS', _ABL + 'sair-ous_demo.py', ('6',)),
    Variant('SIR stage 1', _ABL + 'sir-pretrain_demo.py', (), test=False),
    Variant('SAIR two-stage', _ABL + 'sair-2stage_demo.py', ('6',), stage_one='SIR stage 1'),
    Variant('LTE', _ABL + 'lte_demo.py', ('4',)),
    Variant('SemLTE', _ABL + 'semlte_demo.py', ('4',)),
    Variant('EDSR-LIIF', _ABL + 'edsr-liif_demo.py', ('4',)),
    Variant('SAIR-EDSR', _ABL + 'sair-edsr_demo.py', ('4',)),
    # An option found by the diagnostics (not a paper row): the field's direction, learned scale.
    Variant('SAIR + normalised field', _ABL + 'sair-normfield_demo.py', ('6',)),
)


def schedule_options(iters: int, val_points: int = 5, seed: int = 0) -> Dict:
    """``merge_from_dict`` overrides giving every variant the same schedule.

    ``iters`` iterations, the learning rate halved at 75 % (as ``sair_demo.py`` does at 450 of
    600), validation ``val_points`` times (the Fig. 4 curves), logging every 10 iterations, one
    final checkpoint, a fixed seed.
    """
    if iters < val_points:
        raise ConfigError(f'iters must be >= val_points ({val_points}), got {iters}')
    return {
        'train_cfg': dict(_delete_=True, type='IterBasedTrainLoop', max_iters=iters,
                          val_interval=iters // val_points),
        'param_scheduler': dict(_delete_=True, type='MultiStepLR', by_epoch=False,
                                milestones=[int(iters * 0.75)], gamma=0.5),
        'default_hooks': dict(logger=dict(interval=10),
                              checkpoint=dict(interval=iters, max_keep_ckpts=1)),
        'randomness': dict(seed=seed),
        'log_level': 'WARNING',
    }


def _load_cfg(variant: Variant, work_dir: str, options: Dict, done: Dict[str, Dict]):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, variant.config))
    cfg.merge_from_dict(options)
    cfg.work_dir = work_dir
    cfg.default_scope = cfg.get('default_scope', 'sair_toolbox')
    # Unique: Runners of one process share a MessageHub per experiment name.
    cfg.experiment_name = f'{osp.basename(work_dir)}_{uuid.uuid4().hex[:8]}'
    if variant.stage_one is not None:
        cfg.model.sir.init_cfg.checkpoint = done[variant.stage_one]['checkpoint']
    return cfg


def semantic_diagnostics(model, dataloader, metric_cfg: Dict) -> Dict:
    """Why SAIR does (not) beat LIIF: how much AIR relies on the semantic field.

    * ``psnr_field_zeroed`` / ``psnr_field_shuffled``: the test metrics with the dense SIR field
      ``S`` replaced by zeros, or by the field of another image of the batch (via
      ``SAIR.encode(field_edit=...)``); if AIR ignored ``S`` these would equal the normal scores.
    * ``field_rms`` / ``appearance_rms``: the root-mean-square of ``S`` and of ``Z_app`` (per
      channel, averaged), inside the hole; a field much larger than the appearance features
      could swamp AIR's first layer.

    Args:
        model: a trained :class:`SAIR` with a SIR (eval mode is set here).
        dataloader: the test dataloader.
        metric_cfg: the ``InpaintingMetric`` config.

    Returns:
        dict of the above (metrics as flat ``InpaintingMetric`` dicts).
    """
    from sair_toolbox.registry import METRICS
    model.eval()
    edits: Dict[str, Callable] = {
        'field_zeroed': torch.zeros_like,
        'field_shuffled': lambda s: s.roll(1, dims=0),
    }
    metrics = {name: METRICS.build(dict(metric_cfg)) for name in edits}
    sq = dict(field=0.0, appearance=0.0)
    count = 0.0
    with torch.no_grad():
        for batch in dataloader:
            data = model.data_preprocessor(batch, False)
            img, samples = data['inputs'], data['data_samples']
            mask = torch.stack([s.mask for s in samples]).to(img)
            for name, edit in edits.items():
                out = model.inpaint(img, mask, field_edit=edit)
                metrics[name].process(batch, [
                    dict(gt_img=img[i], output_img=out[i], mask=mask[i],
                         mask_bin=s.metainfo.get('mask_bin'), img_path=s.metainfo.get('img_path'))
                    for i, s in enumerate(samples)])
            hole = mask > 0.5
            field = model.sir.field(model.sir.encode(img * (1 - mask), mask), img.shape[-2:])
            sq['field'] += float((field.pow(2) * hole).sum() / field.shape[1])
            if model.appearance_encoder is not None:
                app = model.appearance_encoder(img * (1 - mask), mask)
                sq['appearance'] += float((app.pow(2) * hole).sum() / app.shape[1])
            count += float(hole.sum())
    out = {f'metrics_{name}': m.compute_metrics(m.results) for name, m in metrics.items()}
    out['field_rms'] = (sq['field'] / max(count, 1)) ** 0.5
    out['appearance_rms'] = ((sq['appearance'] / max(count, 1)) ** 0.5
                             if model.appearance_encoder is not None else None)
    return out


def run_variant(variant: Variant, work_dir: str, options: Dict, done: Dict[str, Dict],
                log: Callable[[str], None] = print) -> Dict:
    """Train (and test) one variant; returns its metrics, timings and, for semantic models,
    the segmentation check and :func:`semantic_diagnostics`."""
    from sair_toolbox.evaluation.segmentation import (build_text_embeddings,
                                                      evaluate_segmentation,
                                                      semantic_encoder_cfg)
    from sair_toolbox.utils.dist import shutdown_distributed
    from sair_toolbox.utils.setup_env import build_runner, release_dataloader_workers
    cfg = _load_cfg(variant, work_dir, options, done)
    start = time.time()
    runner = build_runner(cfg)
    try:
        runner.train()
        result = dict(name=variant.name, config=variant.config, work_dir=work_dir,
                      checkpoint=osp.join(work_dir, f'iter_{cfg.train_cfg.max_iters}.pth'),
                      train_seconds=time.time() - start)
        if variant.test:
            result['metrics'] = dict(runner.test())
            model = runner.model
            if getattr(model, 'sir', None) is not None:
                loader = runner.test_dataloader
                classes = list(loader.dataset.metainfo['classes'])
                text = build_text_embeddings(semantic_encoder_cfg(cfg.model), classes)
                result['segmentation'] = evaluate_segmentation(model, loader, text,
                                                               class_names=classes)
                result['diagnostics'] = semantic_diagnostics(model, loader,
                                                             cfg.test_evaluator)
                # Kept in memory for Fig. 3 (dropped once it is drawn).
                result.update(_model=model, _loader=loader, _text=text)
    finally:
        release_dataloader_workers(runner)
        shutdown_distributed()
    result['seconds'] = time.time() - start
    log(f'demo_tables: {variant.name} done in {result["seconds"]:.0f} s'
        + (f', PSNR {result["metrics"].get("all/PSNR", float("nan")):.2f} dB'
           if 'metrics' in result else ''))
    return result


# ---------------------------------------------------------------------------------- tables
def _f(value, digits=3):
    return '-' if value is None else f'{value:.{digits}f}'


def format_tables(results: Dict[str, Dict], iters: int) -> str:
    """All tables as markdown."""
    from sair_toolbox.evaluation.results_table import format_comparison
    tested = [(n, r) for n, r in results.items() if 'metrics' in r]
    lines = [f'All rows: {iters} iterations, the same schedule, seed and data '
             '(40 demo val images, bins by hole ratio).', '']

    def table(number, title):
        rows = [(n, r['metrics']) for n, r in tested
                if any(v.name == n and number in v.tables for v in VARIANTS)]
        if rows:
            lines.extend([format_comparison(rows, title=f'Tab. {number} (demo): {title}',
                                            style='markdown'), ''])

    table('1', 'SAIR vs LIIF per mask-ratio bin')
    table('4', 'semantics added to other implicit representations')
    table('6', 'ablations of the semantic branch')
    seg = [(n, r['segmentation']) for n, r in tested if 'segmentation' in r]
    if seg:
        lines += ['**Tab. 5 (demo): zero-shot mIoU of the semantic field, without / with SIR**',
                  '', '| Model | mIoU all (w/o SIR) | mIoU all (w/ SIR) | mIoU hole (w/o SIR) | '
                  'mIoU hole (w/ SIR) |', '|---|---|---|---|---|']
        for n, s in seg:
            lines.append(f"| {n} | {_f(s['without_sir']['all']['mIoU'])} | "
                         f"{_f(s['with_sir']['all']['mIoU'])} | "
                         f"{_f(s['without_sir']['hole']['mIoU'])} | "
                         f"{_f(s['with_sir']['hole']['mIoU'])} |")
        lines.append('')
    diag = [(n, r['diagnostics']) for n, r in tested if 'diagnostics' in r]
    if diag:
        lines += ['**Does AIR use the semantic field?** PSNR (all / 40-60 %) with the field as '
                  'trained, zeroed, and taken from another image; RMS of the field and of the '
                  'appearance features in the hole.', '',
                  '| Model | PSNR | field zeroed | field of another image | field RMS | '
                  'appearance RMS |', '|---|---|---|---|---|---|']
        for n, d in diag:
            m = results[n]['metrics']

            def pair(x):
                nan = float('nan')
                return f"{x.get('all/PSNR', nan):.2f} / {x.get('40-60/PSNR', nan):.2f}"
            lines.append(f"| {n} | {pair(m)} | {pair(d['metrics_field_zeroed'])} | "
                         f"{pair(d['metrics_field_shuffled'])} | {_f(d['field_rms'])} | "
                         f"{_f(d['appearance_rms'])} |")
        lines.append('')
    lines += ['| Run | train + test time (s) |', '|---|---|']
    lines += [f"| {n} | {r['seconds']:.0f} |" for n, r in results.items()]
    return '\n'.join(lines) + '\n'


def _jsonable(results: Dict[str, Dict]) -> Dict:
    from sair_toolbox.evaluation.segmentation import jsonable
    return jsonable({n: {k: v for k, v in r.items() if not k.startswith('_')}
                     for n, r in results.items()})


# ---------------------------------------------------------------------------------- figures
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
    axes = fig.subplots(len(rows), 4, squeeze=False)
    for r, row in enumerate(rows):
        for c, im in enumerate(row):
            axes[r, c].imshow(im, interpolation='nearest')
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(titles[c], fontsize=9)
    fig.savefig(out_path, dpi=120)


def figure4(results: Dict[str, Dict], out_path: str, names=('LIIF', 'SAIR')) -> None:
    """Fig. 4: validation PSNR and training reconstruction loss against iteration, from the
    runs' own MMEngine scalar logs (:mod:`sair_toolbox.visualization.curves`)."""
    from sair_toolbox.visualization.curves import load_runs, plot_curves
    runs = load_runs([results[n]['work_dir'] for n in names], labels=list(names))
    plot_curves(runs, ['all/PSNR', 'loss_rec'], out_path, smooth=3,
                title='Fig. 4 (demo): LIIF vs SAIR')


# ---------------------------------------------------------------------------------- main
def run_demo_tables(out_dir: str = 'results/demo_tables',
                    work_root: str = 'work_dirs/demo_tables',
                    iters: int = 200,
                    names: Optional[Sequence[str]] = None,
                    log: Callable[[str], None] = print) -> Dict[str, Dict]:
    """Train and test the variants, write the tables (markdown + JSON) and the figures.

    Args:
        out_dir: where ``tables.md``, ``results.json`` and the PNG figures go.
        work_root: parent of the runs' work dirs (one per variant).
        iters: the common schedule's length (:func:`schedule_options`).
        names: a subset of :data:`VARIANTS` by name (default: all; stage-one runs are added
            where needed).
        log: progress printer.

    Returns:
        ``{name: result}`` (see :func:`run_variant`).
    """
    by_name = {v.name: v for v in VARIANTS}
    wanted = list(names) if names else list(by_name)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise ConfigError(f'unknown variants {unknown}; known: {list(by_name)}')
    for n in list(wanted):
        if by_name[n].stage_one and by_name[n].stage_one not in wanted:
            wanted.insert(wanted.index(n), by_name[n].stage_one)
    os.makedirs(out_dir, exist_ok=True)
    options = schedule_options(iters)
    results: Dict[str, Dict] = {}
    start = time.time()
    for i, name in enumerate(wanted, 1):
        variant = by_name[name]
        log(f'demo_tables: [{i}/{len(wanted)}] {name} ({variant.config}), '
            f'{time.time() - start:.0f} s so far')
        work_dir = osp.join(work_root, osp.splitext(osp.basename(variant.config))[0])
        results[name] = run_variant(variant, work_dir, options, results, log)
        with open(osp.join(out_dir, 'results.json'), 'w', encoding='utf-8') as f:
            json.dump(dict(iters=iters, results=_jsonable(results)), f, indent=2)
        with open(osp.join(out_dir, 'tables.md'), 'w', encoding='utf-8') as f:
            f.write(format_tables(results, iters))
        if name == 'SAIR':
            figure3(results['SAIR'], osp.join(out_dir, 'fig3_label_maps.png'))
        for key in ('_model', '_loader', '_text'):  # free the model
            results[name].pop(key, None)
        if name in ('SAIR', 'LIIF') and 'SAIR' in results and 'LIIF' in results:
            figure4(results, osp.join(out_dir, 'fig4_curves.png'))
    log(f'demo_tables: wrote {out_dir}/tables.md, results.json and figures in '
        f'{time.time() - start:.0f} s')
    return results
