"""The paper in miniature: Tab. 1, 4/6 and 5 and Fig. 3 and 4 on the embedded demo world.

Every variant is a config under ``configs/sair/`` (``sair_demo.py`` and small overrides of it in
``configs/sair/ablations/*_demo.py``). :func:`run_demo_tables` trains each of them once per table
seed with one common schedule (:func:`schedule_options`: the same iterations, learning-rate
steps and validation points for all; nothing is tuned per variant or per seed; the model, data
and mask seeds of a run all come from the table seed, :mod:`~sair_toolbox.experiments.seeding`),
tests it on the demo val split (``num_val`` images, :func:`set_num_val`), and for the models with
a semantic branch also runs the diagnostics of
:func:`~sair_toolbox.experiments.diagnostics.semantic_diagnostics` and, for the text-aligned
(CLIP) ones, the zero-shot segmentation check (Tab. 5). It writes into the output folder

* ``tables.md``: every table as mean ± std over seeds, and the paper's paired comparisons
  (``SAIR − LIIF``, ...) with 95 % confidence intervals and whether each is distinguishable
  from zero (:mod:`~sair_toolbox.experiments.seed_tables`);
* ``results.json``: per row the runs of every seed (metrics, timings, work dirs), every
  per-image score (``per_image[seed]``: one record per val image with ``img_path``, ``bin``,
  ``PSNR``, ``SSIM``, ``L1``, ``input_*``), the mean ± std summaries and the comparisons;
* ``fig3_label_maps.png`` (the first seed's SAIR), ``fig4_curves.png`` (mean ± std bands over
  seeds) and ``fig_sharp_fills.png`` (the same val images filled by the L1 and GAN models, with
  and without semantics, first seed) (:mod:`sair_toolbox.experiments.figures`).

    from sair_toolbox.experiments.demo_tables import run_demo_tables
    run_demo_tables('results/demo_tables', iters=200, seeds=(0, 1, 2))

``tools/demo_tables.py`` is the command-line front end.
"""
import copy
import json
import os
import os.path as osp
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from sair_toolbox.utils.errors import ConfigError

from .seeding import LOADERS, apply_seeds, check_seeds, run_seeds, seed_work_dir

#: Repository root (the configs live in ``<root>/configs``).
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@dataclass(frozen=True)
class Variant:
    """One row: a display name, its config (relative to the repository root) and its tables.

    Attributes:
        name: row label.
        config: config path relative to :data:`ROOT`.
        tables: the paper tables the row belongs to (``'1'``, ``'4'``, ``'6'``).
        stage_one: name of a variant whose final checkpoint (of the same seed) this one loads
            (``sir.init_cfg``).
        test: whether the run is an inpainting model to test (False for SIR pretraining).
        zero_shot: whether the semantic encoder is text-aligned (CLIP), so that the zero-shot
            segmentation check (Tab. 5) and Fig. 3 apply; False for SAM, which has no text
            tower (the field diagnostics still run).
    """
    name: str
    config: str
    tables: Sequence[str] = ()
    stage_one: Optional[str] = None
    test: bool = True
    zero_shot: bool = True


_ABL = 'configs/sair/ablations/'
#: The offline rows of the paper's tables, in training order (Tab. 1 and 6 first; the tables
#: are rewritten after every run, so an interrupted run still leaves the rows it finished).
VARIANTS = (
    Variant('SAIR', 'configs/sair/sair_demo.py', ('1', '4', '6', 'gan')),
    Variant('LIIF', _ABL + 'liif_demo.py', ('1', '4', '6', 'gan')),
    Variant('NFS', _ABL + 'sair-nfs_demo.py', ('6',)),
    Variant('OUS', _ABL + 'sair-ous_demo.py', ('6',)),
    Variant('SIR stage 1', _ABL + 'sir-pretrain_demo.py', (), test=False),
    Variant('SAIR two-stage', _ABL + 'sair-2stage_demo.py', ('6',), stage_one='SIR stage 1'),
    # Tab. 6's encoder ablation: the demo SAM image encoder (class-agnostic, no text tower).
    Variant('SAIR (SAM)', _ABL + 'sair-sam_demo.py', ('6',), zero_shot=False),
    Variant('LTE', _ABL + 'lte_demo.py', ('4',)),
    Variant('SemLTE', _ABL + 'semlte_demo.py', ('4',)),
    Variant('EDSR-LIIF', _ABL + 'edsr-liif_demo.py', ('4',)),
    Variant('SAIR-EDSR', _ABL + 'sair-edsr_demo.py', ('4',)),
    # An option found by the diagnostics (not a paper row): the field's direction, learned scale.
    Variant('SAIR + normalised field', _ABL + 'sair-normfield_demo.py', ('6',)),
    # Sharp fills (not in the paper): the same generators under the adversarial objective.
    Variant('SAIR GAN', _ABL + 'sair-gan_demo.py', ('gan',)),
    Variant('LIIF GAN', _ABL + 'liif-gan_demo.py', ('gan',)),
)
#: The demo world's distribution metrics (demo-FID/KID/P-IDS/U-IDS on the DemoFeatureNet, the
#: GAN configs' own), added to the test of every row of the sharp-fills table so that the L1
#: and GAN models are measured alike.
DEMO_DISTRIBUTION_METRIC = dict(
    type='DistributionMetric', name_prefix='demo-',
    feature_net=dict(type='DemoFeatureNet',
                     pretrained=dict(type='DemoFeatureNetWeights',
                                     cache_dir='data/demo_feature_net')))
#: Metrics of the sharp-fills table: ``(metric, decimals)``.
GAN_TABLE_METRICS = (('PSNR', 2), ('SSIM', 3), ('demo-FID', 2), ('demo-KID', 4),
                     ('demo-P-IDS', 3))


#: Val images of the seeded tables (the demo configs' own split has 40; :func:`set_num_val`).
DEFAULT_NUM_VAL = 120
#: Table seeds of a full run (mean ± std and t intervals need at least two).
DEFAULT_SEEDS = (0, 1, 2)


def default_work_root(out_dir: str) -> str:
    """The runs' parent folder for an output folder: ``work_dirs/<name of out_dir>`` (e.g.
    ``results/demo_tables`` -> ``work_dirs/demo_tables``), so that runs written for another
    ``--out`` do not land in (and overwrite) the work dirs of the committed tables."""
    return osp.join('work_dirs', osp.basename(osp.normpath(out_dir)))


#: Learning-rate schedules of :func:`schedule_options` (``--lr-schedule``).
LR_SCHEDULES = ('step', 'cosine', 'paper')
#: The cosine schedule's final learning rate, as a fraction of the initial one.
COSINE_END_RATIO = 0.01


def lr_scheduler_cfg(iters: int, lr_schedule: str = 'step') -> Dict:
    """The common learning-rate schedule over ``iters`` iterations, as an MMEngine scheduler.

    ``'step'``: the learning rate halved at 75 % (as ``sair_demo.py`` does at 450 of 600).
    ``'cosine'``: cosine annealing from the config's learning rate to
    :data:`COSINE_END_RATIO` of it at the last iteration (training ends at a small learning
    rate, so the last val point is the end of a decay, not a snapshot mid-descent).
    ``'paper'``: the paper's shape, halved at 50 % ("halved every 100 epochs", 200 epochs):
    the last half runs at one learning rate, so a flat val curve over the last fifth means
    training has levelled off at that rate, not that the decay has run out (under ``'cosine'``
    the last fifth is the end of the annealing, which keeps adding a little however long the
    schedule).
    """
    if lr_schedule in ('step', 'paper'):
        at = 0.75 if lr_schedule == 'step' else 0.5
        return dict(_delete_=True, type='MultiStepLR', by_epoch=False,
                    milestones=[int(iters * at)], gamma=0.5)
    if lr_schedule == 'cosine':
        return dict(_delete_=True, type='CosineAnnealingLR', by_epoch=False, begin=0,
                    end=iters, T_max=iters, eta_min_ratio=COSINE_END_RATIO)
    raise ConfigError(f'lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}')


def schedule_options(iters: int, val_points: int = 5, seed: int = 0,
                     lr_schedule: str = 'step', ckpt_interval: Optional[int] = None) -> Dict:
    """``merge_from_dict`` overrides giving every variant the same schedule.

    ``iters`` iterations under :func:`lr_scheduler_cfg` (``lr_schedule``), validation
    ``val_points`` times (the Fig. 4 curves), logging every 10 iterations, a fixed seed
    (:func:`_load_cfg` then sets the table seed's model, data and mask seeds with
    :func:`~sair_toolbox.experiments.seeding.apply_seeds`), and a checkpoint every
    ``ckpt_interval`` iterations (default: at every val point) and at the end, the last two
    kept while training (so that one is always whole; a finished run keeps only its last,
    :mod:`~sair_toolbox.experiments.resume`): what a stopped table resumes from. The
    checkpoint interval is not part of a run's identity: it does not change the run.
    """
    if iters < val_points:
        raise ConfigError(f'iters must be >= val_points ({val_points}), got {iters}')
    if ckpt_interval is not None and (isinstance(ckpt_interval, bool)
                                      or not isinstance(ckpt_interval, int)
                                      or ckpt_interval < 1):
        raise ConfigError(f'ckpt_interval must be a positive integer, got {ckpt_interval!r}')
    return {
        'train_cfg': dict(_delete_=True, type='IterBasedTrainLoop', max_iters=iters,
                          val_interval=iters // val_points),
        'param_scheduler': lr_scheduler_cfg(iters, lr_schedule),
        'default_hooks': dict(logger=dict(interval=10),
                              checkpoint=dict(interval=ckpt_interval or iters // val_points,
                                              max_keep_ckpts=2, save_last=True)),
        'randomness': dict(seed=seed),
        'log_level': 'WARNING',
    }


def _datasets(cfg) -> List[Mapping]:
    """The innermost dataset configs of the config's train/val/test loaders (absent ones
    skipped; wrappers such as ``RepeatDataset`` followed)."""
    out = []
    for name in LOADERS:
        loader = cfg.get(name)
        dataset = loader.get('dataset') if loader else None
        while isinstance(dataset, Mapping) and isinstance(dataset.get('dataset'), Mapping):
            dataset = dataset['dataset']
        if isinstance(dataset, Mapping):
            out.append(dataset)
    return out


def set_num_val(cfg, num_val: Optional[int]) -> None:
    """Give every ``DemoDataset`` of the config ``num_val`` val images (in place).

    The demo data of one ``data_root`` is generated once for one ``(num_train, num_val)``, so
    another val size gets its own folder, ``<data_root>_val<N>`` (e.g. ``data/demo_val120``):
    ``data/demo`` keeps the 40 val images of the demo configs. Val image ``i`` depends only on
    ``(seed, i)``, so the first 40 of ``data/demo_val120`` are the 40 of ``data/demo``.

    Args:
        cfg: an MMEngine ``Config`` of a demo variant.
        num_val: val images (>= 3: one per hole-ratio bin); None keeps the config's.

    Raises:
        ConfigError: ``num_val`` below 3.
    """
    if num_val is None:
        return
    if isinstance(num_val, bool) or not isinstance(num_val, int) or num_val < 3:
        raise ConfigError(f'num_val must be an integer >= 3 (one val image per hole-ratio bin '
                          f'at least), got {num_val!r}')
    for dataset in _datasets(cfg):
        if dataset.get('type') != 'DemoDataset' or dataset.get('num_val', 40) == num_val:
            continue
        dataset['num_val'] = num_val
        root = str(dataset.get('data_root', 'data/demo')).rstrip('/\\')
        dataset['data_root'] = f'{root}_val{num_val}'


#: Training scenes of the demo configs (``configs/_base_/datasets/demo.py``).
DEMO_NUM_TRAIN = 400


def set_num_train(cfg, num_train: Optional[int]) -> None:
    """Give every ``DemoDataset`` of the config ``num_train`` training scenes (in place).

    Another size gets its own folder, ``<data_root>_train<N>`` (then ``_val<M>`` from
    :func:`set_num_val`). Train scene ``i`` depends only on ``(seed, i)``, so the training sets
    of the sizes are nested (the 50 scenes are the first 50 of the 400) and the val images are
    the same for every size.

    Args:
        cfg: an MMEngine ``Config`` of a demo variant.
        num_train: training scenes (>= 1); None keeps the config's.

    Raises:
        ConfigError: ``num_train`` not a positive integer.
    """
    if num_train is None:
        return
    if isinstance(num_train, bool) or not isinstance(num_train, int) or num_train < 1:
        raise ConfigError(f'num_train must be a positive integer, got {num_train!r}')
    for dataset in _datasets(cfg):
        if dataset.get('type') != 'DemoDataset' or dataset.get('num_train',
                                                               DEMO_NUM_TRAIN) == num_train:
            continue
        dataset['num_train'] = num_train
        root = str(dataset.get('data_root', 'data/demo')).rstrip('/\\')
        dataset['data_root'] = f'{root}_train{num_train}'


def _metric_cfgs(evaluator) -> List:
    """An evaluator config (one metric config, a list of them, or None) as a list."""
    return [evaluator] if isinstance(evaluator, Mapping) else list(evaluator or [])


def _keep_records(cfg) -> None:
    """Make the test evaluator's ``InpaintingMetric`` keep its per-image records."""
    evaluator = cfg.get('test_evaluator')
    kept = [dict(e, keep_records=True) if isinstance(e, Mapping)
            and e.get('type') == 'InpaintingMetric' else e for e in _metric_cfgs(evaluator)]
    if kept:
        cfg.test_evaluator = kept[0] if isinstance(evaluator, Mapping) else kept


def _inpainting_metric_cfg(evaluator) -> Mapping:
    """The ``InpaintingMetric`` config of a test evaluator (one metric or a list)."""
    return next(m for m in _metric_cfgs(evaluator) if m.get('type') == 'InpaintingMetric')


def _add_distribution_metric(cfg) -> None:
    """Append :data:`DEMO_DISTRIBUTION_METRIC` to the test evaluator unless it has one."""
    metrics = _metric_cfgs(cfg.get('test_evaluator'))
    if not any(isinstance(m, Mapping) and m.get('type') == 'DistributionMetric'
               for m in metrics):
        cfg.test_evaluator = metrics + [dict(DEMO_DISTRIBUTION_METRIC)]


def _load_cfg(variant: Variant, work_dir: str, options: Dict, done: Dict[str, Dict],
              seed: int = 0, num_val: Optional[int] = None, num_train: Optional[int] = None,
              config_hook: Optional[Callable] = None):
    """The config of one (variant, seed) run: the common schedule, the seed's model, data and
    mask seeds, ``num_train`` training scenes and ``num_val`` val images, per-image test
    records, for a two-stage variant the stage-one checkpoint of ``done`` (the runs of the
    same seed), and last ``config_hook(cfg)`` (in place) if given."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, variant.config))
    # A copy: merge_from_dict consumes the '_delete_' markers of the dict it is given, and the
    # same options serve every run (without them, a later run's scheduler would keep the
    # config's own keys beside the common schedule's).
    cfg.merge_from_dict(copy.deepcopy(options))
    apply_seeds(cfg, run_seeds(seed))
    set_num_train(cfg, num_train)
    set_num_val(cfg, num_val)
    if 'gan' in variant.tables:
        _add_distribution_metric(cfg)
    _keep_records(cfg)
    cfg.work_dir = work_dir
    cfg.default_scope = cfg.get('default_scope', 'sair_toolbox')
    # Unique: Runners of one process share a MessageHub per experiment name.
    cfg.experiment_name = f'{osp.basename(work_dir)}_{uuid.uuid4().hex[:8]}'
    if variant.stage_one is not None:
        cfg.model.sir.init_cfg.checkpoint = done[variant.stage_one]['checkpoint']
    if config_hook is not None:
        config_hook(cfg)
    return cfg


#: The scalar curves a run keeps in ``results.json`` (``run['curves']``): the val metrics of the
#: output (not the ``input_*`` ones) and the training losses and learning rate.
CURVE_SUFFIXES = ('/PSNR', '/SSIM', '/L1')
CURVE_KEYS = ('loss', 'loss_rec', 'loss_sem', 'lr')


def run_curves(work_dir: str) -> Dict[str, List[List[float]]]:
    """The curves of a run's scalar log worth keeping (:data:`CURVE_SUFFIXES`,
    :data:`CURVE_KEYS`): ``{key: [[step, value], ...]}``, empty without a log."""
    from sair_toolbox.utils.errors import DataError
    from sair_toolbox.visualization.curves import read_scalars
    try:
        scalars = read_scalars(work_dir)
    except DataError:
        return {}
    return {k: [[s, v] for s, v in points] for k, points in scalars.items()
            if k in CURVE_KEYS or (k.endswith(CURVE_SUFFIXES) and '/input_' not in k)}


def run_variant(variant: Variant, work_dir: str, options: Dict, done: Dict[str, Dict],
                log: Optional[Callable[[str], None]] = None, seed: int = 0,
                num_val: Optional[int] = None, num_train: Optional[int] = None,
                config_hook: Optional[Callable] = None,
                identity: Optional[Mapping] = None) -> Dict:
    """Train (and test) one variant under one table seed.

    Args:
        variant: the row.
        work_dir: its work dir (one per row and seed, :func:`~sair_toolbox.experiments.
            seeding.seed_work_dir`).
        options: :func:`schedule_options`.
        done: the finished runs of the same seed (``{name: result}``: the stage-one
            checkpoint of a two-stage row).
        log: progress printer for the run's own line (None: silent; :func:`run_demo_tables`
            prints one line per run with the time left).
        seed: the table seed (model, data and mask seeds).
        num_val: val images (:func:`set_num_val`; None keeps the config's).
        num_train: training scenes (:func:`set_num_train`; None keeps the config's).
        config_hook: applied to the run's config last (:func:`_load_cfg`).
        identity: the run's :func:`~sair_toolbox.experiments.resume.run_identity`: with it the
            run resumes from its work dir's last checkpoint when that dir was started with the
            same identity (:func:`~sair_toolbox.experiments.resume.prepare_work_dir`; else its
            checkpoints are cleared and the run starts), and keeps only its final checkpoint
            when done. None: train from the start into the work dir as it is.

    Returns:
        ``seed``, ``work_dir``, ``checkpoint``, ``identity``, ``resumed_from`` (the iteration a
        resumed run started from; absent otherwise), ``train_seconds``, ``seconds``, ``threads``
        (torch's thread count of the run), ``curves`` (:func:`run_curves`), and for tested
        rows ``metrics`` (the flat test metrics) and ``per_image`` (the test metric's records,
        one per val image); for models with a SIR ``diagnostics``
        (:func:`~sair_toolbox.experiments.diagnostics.semantic_diagnostics`) and, for
        text-aligned encoders (``variant.zero_shot``), ``segmentation`` (Tab. 5) plus the
        in-memory ``_model``/``_loader``/``_text`` for Fig. 3.
    """
    import torch

    from sair_toolbox.engine.setup import build_runner
    from sair_toolbox.evaluation.segmentation import evaluate_segmentation
    from sair_toolbox.models.zero_shot import build_text_embeddings, semantic_encoder_cfg
    from sair_toolbox.utils.dist import shutdown_distributed
    from sair_toolbox.utils.setup_env import release_dataloader_workers

    from .diagnostics import semantic_diagnostics
    from .resume import (checkpoint_iteration, keep_final_checkpoint, prepare_work_dir,
                         validate_resume_point)
    cfg = _load_cfg(variant, work_dir, options, done, seed=seed, num_val=num_val,
                    num_train=num_train, config_hook=config_hook)
    max_iters = cfg.train_cfg.max_iters
    resume_from = None
    if identity is not None:
        resume_from = prepare_work_dir(work_dir, identity, max_iters)
        if resume_from is not None:
            cfg.load_from, cfg.resume = resume_from, True
    start = time.time()
    runner = build_runner(cfg)
    if resume_from is not None:
        validate_resume_point(runner, CURVE_SUFFIXES[:1])
    try:
        runner.train()
        checkpoint = osp.join(work_dir, f'iter_{max_iters}.pth')
        if identity is not None:
            keep_final_checkpoint(work_dir, checkpoint)
        result = dict(name=variant.name, config=variant.config, seed=seed, work_dir=work_dir,
                      checkpoint=checkpoint, train_seconds=time.time() - start,
                      threads=torch.get_num_threads(), curves=run_curves(work_dir))
        if identity is not None:
            result['identity'] = dict(identity)
        if resume_from is not None:
            result['resumed_from'] = checkpoint_iteration(resume_from)
        if variant.test:
            result['metrics'] = dict(runner.test())
            result['per_image'] = [dict(rec) for metric in runner.test_evaluator.metrics
                                   if getattr(metric, 'keep_records', False)
                                   for rec in metric.records]
            model = runner.model
            if getattr(model, 'sir', None) is not None:
                loader = runner.test_dataloader
                if variant.zero_shot:
                    classes = list(loader.dataset.metainfo['classes'])
                    text = build_text_embeddings(semantic_encoder_cfg(cfg.model), classes)
                    result['segmentation'] = evaluate_segmentation(model, loader, text,
                                                                   class_names=classes)
                    # Kept in memory for Fig. 3 (dropped once it is drawn).
                    result.update(_model=model, _loader=loader, _text=text)
                result['diagnostics'] = semantic_diagnostics(
                    model, loader, _inpainting_metric_cfg(cfg.test_evaluator))
    finally:
        release_dataloader_workers(runner)
        shutdown_distributed()
    result['seconds'] = time.time() - start
    if log is not None:
        log(f'demo_tables: {variant.name} seed {seed} done in {result["seconds"]:.0f} s'
            + (f', PSNR {result["metrics"].get("all/PSNR", float("nan")):.2f} dB'
               if 'metrics' in result else ''))
    return result


# ---------------------------------------------------------------------------------- tables
def _ms(values: Sequence[Optional[float]], digits: int = 2) -> str:
    """``mean ± std`` of the values that exist (the mean alone for one), ``-`` for none."""
    from .stats import format_mean_std, mean_std
    values = [float(v) for v in values if v is not None]
    if not values:
        return '-'
    mean, std = mean_std(values)
    return format_mean_std(mean, std if len(values) > 1 else None, digits=digits)


def _tested(results: Dict[str, Dict]) -> List:
    """``[(name, {seed: run})]`` of the rows with test metrics (only their tested runs)."""
    out = []
    for name, row in results.items():
        runs = {s: r for s, r in row['runs'].items() if 'metrics' in r}
        if runs:
            out.append((name, runs))
    return out


def summarize(results: Dict[str, Dict]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """``{row: {metric key: {'mean', 'std', 'num_seeds'}}}`` of the tested rows."""
    from .stats import summarize_seeds
    out = {}
    for name, runs in _tested(results):
        summary = summarize_seeds({s: r['metrics'] for s, r in runs.items()})
        out[name] = {k: dict(mean=m, std=sd, num_seeds=len(runs))
                     for k, (m, sd) in summary.items()}
    return out


def compare_rows(results: Dict[str, Dict]) -> Dict:
    """The paired comparisons (:func:`~sair_toolbox.experiments.seed_tables.
    paired_comparisons`) of the rows' per-image records, on the seeds both rows have."""
    from .seed_tables import paired_comparisons
    per_image = {n: {s: r['per_image'] for s, r in runs.items() if r.get('per_image')}
                 for n, runs in _tested(results)}
    return paired_comparisons({n: p for n, p in per_image.items() if p})


def format_tables(results: Dict[str, Dict], iters: int, seeds: Sequence[int] = (0, ),
                  num_val: Optional[int] = None, comparisons: Optional[Dict] = None,
                  num_train: Optional[int] = None, lr_schedule: str = 'step',
                  cfg_options: Optional[Mapping] = None, jobs: int = 1) -> str:
    """All tables as markdown: mean ± std over seeds, then the paired comparisons.

    Args:
        results: ``{row: {'runs': {seed: run}, ...}}`` (:func:`run_demo_tables`).
        iters: the schedule's length.
        seeds: the table seeds asked for.
        num_val: val images (None: the configs' 40).
        comparisons: :func:`compare_rows` (computed here when None).
        num_train: training scenes (None: the configs' 400).
        lr_schedule: the runs' :func:`lr_scheduler_cfg` schedule.
        cfg_options: config overrides given to every row (``--cfg-options``), or None.
        jobs: runs at a time (``--jobs``); shown with the runs' thread counts.
    """
    from .seed_tables import (COMPARISON_METRICS, GAN_PAIRS, comparison_notes,
                              format_comparison_table, format_seed_differences,
                              format_seed_table)
    tested = _tested(results)
    seed_list = ', '.join(map(str, seeds))
    schedule = {'step': 'learning rate halved at 75 %',
                'paper': "learning rate halved at 50 %, the paper's shape",
                'cosine': f'cosine learning-rate decay to {COSINE_END_RATIO:g} x'}[lr_schedule]
    lines = [f'All rows: {iters} iterations ({schedule}), the same schedule and data; '
             f'seeds {seed_list} '
             '(each row trained once per seed; the model, data and mask seeds of a run all come '
             f'from its seed); {num_train or DEMO_NUM_TRAIN} training scenes, '
             f'{num_val or 40} demo val images, bins by hole ratio. Cells: mean '
             '± sample std over the seeds.', '']
    threads = sorted({r['threads'] for row in results.values() for r in row['runs'].values()
                      if r.get('threads')})
    if threads:  # the thread count is part of what fixes a run's bits
        lines[0] += (f' Torch threads per run: {", ".join(map(str, threads))}'
                     + (f' ({jobs} runs at a time).' if jobs > 1 else '.'))
    if cfg_options:
        shown = ' '.join(f'`{k}={v!r}`' for k, v in cfg_options.items())
        lines[-1:] = ['', f'Config overrides of every row (`--cfg-options`): {shown}.', '']

    def table(number, title, **kwargs):
        rows = [(n, {s: r['metrics'] for s, r in runs.items()}) for n, runs in tested
                if any(v.name == n and number in v.tables for v in VARIANTS)]
        if rows:
            lines.extend([format_seed_table(rows, title=title, **kwargs), ''])
        return rows

    table('1', 'Tab. 1 (demo): SAIR vs LIIF per mask-ratio bin')
    table('4', 'Tab. 4 (demo): semantics added to other implicit representations')
    table('6', 'Tab. 6 (demo): ablations of the semantic branch')
    gan_rows = table('gan', 'Sharp fills (demo): L1 and GAN objectives, with and without '
                     'semantics (demo-FID/KID/P-IDS: the DemoFeatureNet, not comparable to '
                     'Inception numbers)', metrics=GAN_TABLE_METRICS)
    if gan_rows:
        lines += [format_seed_differences(dict(gan_rows), GAN_PAIRS,
                                          [m for m, _ in GAN_TABLE_METRICS[2:]]), '']
    comparisons = compare_rows(results) if comparisons is None else comparisons
    if comparisons:
        lines += ['**Paired comparisons (demo)**: mean difference `a − b` over seeds of the '
                  'per-seed mean difference on the same val images and masks, with a 95 % '
                  'interval: the union of the paired t interval over seeds (needs >= 2 seeds) '
                  'and a hierarchical bootstrap (seeds, then images). `(*)`: the interval '
                  'excludes zero (distinguishable); `(n.s.)`: not distinguishable from zero.', '']
        for metric, unit, digits in COMPARISON_METRICS:
            text = format_comparison_table(comparisons, metric, unit=unit, digits=digits)
            if text:
                lines += [f'*{metric}*', '', text, '']
        lines += [f'* {note}' for note in comparison_notes(comparisons, 'PSNR')] + ['']
    seg = [(n, runs) for n, runs in tested
           if any('segmentation' in r for r in runs.values())]
    if seg:
        lines += ['**Tab. 5 (demo): zero-shot mIoU of the semantic field, without / with SIR** '
                  '(mean ± std over seeds)', '',
                  '| Model | mIoU all (w/o SIR) | mIoU all (w/ SIR) | mIoU hole (w/o SIR) | '
                  'mIoU hole (w/ SIR) |', '|---|---|---|---|---|']
        for n, runs in seg:
            segs = [r['segmentation'] for r in runs.values() if 'segmentation' in r]
            cells = [_ms([s[side][where]['mIoU'] for s in segs], 3)
                     for where in ('all', 'hole') for side in ('without_sir', 'with_sir')]
            lines.append(f'| {n} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    diag = [(n, runs) for n, runs in tested if any('diagnostics' in r for r in runs.values())]
    if diag:
        lines += ['**Does AIR use the semantic field?** PSNR (all / 40-60 %) with the field as '
                  'trained, zeroed, and taken from another image; RMS of the field and of the '
                  'appearance features in the hole (mean ± std over seeds).', '',
                  '| Model | PSNR | field zeroed | field of another image | field RMS | '
                  'appearance RMS |', '|---|---|---|---|---|---|']
        for n, runs in diag:
            chosen = [r for r in runs.values() if 'diagnostics' in r]

            def pair(get):
                return ' / '.join(_ms([get(r).get(k) for r in chosen])
                                  for k in ('all/PSNR', '40-60/PSNR'))
            d = [r['diagnostics'] for r in chosen]
            lines.append(f"| {n} | {pair(lambda r: r['metrics'])} | "
                         f"{pair(lambda r: r['diagnostics']['metrics_field_zeroed'])} | "
                         f"{pair(lambda r: r['diagnostics']['metrics_field_shuffled'])} | "
                         f"{_ms([x['field_rms'] for x in d], 3)} | "
                         f"{_ms([x['appearance_rms'] for x in d], 3)} |")
        lines.append('')
    lines += ['| Run | seeds | train + test time per seed (s) | total (s) |', '|---|---|---|---|']
    for n, row in results.items():
        secs = [r['seconds'] for r in row['runs'].values()]
        if not secs:
            continue
        lines.append(f'| {n} | {len(secs)} | {_ms(secs, 0)} | {sum(secs):.0f} |')
    return '\n'.join(lines) + '\n'


def _jsonable(results: Dict[str, Dict]) -> Dict:
    from sair_toolbox.utils.jsonable import jsonable

    def clean(run):
        return {k: v for k, v in run.items() if not k.startswith('_') and k != 'per_image'}
    return jsonable({n: dict({k: v for k, v in row.items() if k not in ('runs', )},
                             runs={str(s): clean(r) for s, r in row['runs'].items()},
                             per_image={str(s): r['per_image'] for s, r in row['runs'].items()
                                        if 'per_image' in r})
                     for n, row in results.items()})


def _eta(durations: Dict[str, List[float]], todo: Sequence[str],
         running: Optional[Mapping[Tuple[str, int], float]] = None,
         jobs: int = 1) -> Optional[float]:
    """Seconds left: each remaining run at its row's mean duration so far, or at the mean of
    every finished run for a row that has not run yet, minus what the running ones have done
    already, shared by ``jobs`` workers (an estimate; None before the first run).

    Args:
        durations: finished runs' seconds per row.
        todo: the rows of the runs not started yet.
        running: ``{(row, seed): seconds since it started}`` of the runs in progress.
        jobs: runs at a time.
    """
    every = [d for ds in durations.values() for d in ds]
    if not every:
        return None
    overall = sum(every) / len(every)

    def expected(name):
        return sum(durations[name]) / len(durations[name]) if durations.get(name) else overall
    total = sum(expected(n) for n in todo)
    for (name, _), spent in (running or {}).items():
        total += max(0.0, expected(name) - spent)
    busy = len(todo) + len(running or {})
    return total / max(1, min(jobs, busy))


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 60} min {seconds % 60:02d} s' if seconds >= 60 else f'{seconds} s'


#: The columns of the sharp-fills figure, in order.
FILL_ROWS = ('LIIF', 'SAIR', 'LIIF GAN', 'SAIR GAN')


def sharp_fills_figure(results: Dict[str, Dict], out_path: str, seed: int,
                       num_val: Optional[int] = DEFAULT_NUM_VAL, num_images: int = 4) -> bool:
    """The same ``num_images`` val images (20-40 % and 40-60 % holes) filled by the L1 and
    GAN models with and without semantics (:data:`FILL_ROWS`) of one seed, side by side.

    Args:
        results: ``{row: {'runs': {seed: {'checkpoint': ...}}}}`` (checkpoints on disk).
        out_path: the PNG.
        seed: which seed's models (and that seed's val masks).
        num_val: the val split the runs were tested on.
        num_images: rows of the figure.

    Returns:
        Whether it was drawn (False while a row of that seed is missing).
    """
    from sair_toolbox.apis.model import init_model
    from sair_toolbox.registry import DATASETS

    from .figures import fills_figure, pick_val_images
    by_name = {v.name: v for v in VARIANTS}
    runs = {n: results.get(n, {}).get('runs', {}).get(seed) for n in FILL_ROWS}
    if not all(r and osp.isfile(r.get('checkpoint', '')) for r in runs.values()):
        return False
    cfg = _load_cfg(by_name['SAIR'], 'unused', schedule_options(5), {}, seed=seed,
                    num_val=num_val)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    images = pick_val_images(dataset, num_images)
    models = {n if n.endswith('GAN') else f'{n} L1':
              init_model(osp.join(ROOT, by_name[n].config), runs[n]['checkpoint'])
              for n in FILL_ROWS}
    fills_figure(models, images, out_path,
                 title=f'Demo val images, seed {seed}: L1 and GAN objectives, without (LIIF) '
                       'and with (SAIR) semantics')
    return True


def write_outputs(out_dir: str, results: Dict[str, Dict], setting: Mapping) -> None:
    """Write ``results.json`` and ``tables.md`` (tables, comparisons, convergence check).

    Args:
        out_dir: the output folder.
        results: ``{row: {'runs': {seed: run}, ...}}`` (:func:`run_demo_tables`).
        setting: ``iters``, ``seeds``, ``num_val``, ``num_train``, ``val_points``,
            ``lr_schedule``, ``cfg_options``, ``jobs`` and ``threads`` of the runs; and from
            :func:`load_results` the saved ``levelling`` and ``difference_levelling``, kept
            for rows whose curves cannot be read any more.
    """
    from sair_toolbox.utils.jsonable import jsonable

    from .convergence import difference_levelling, format_levelling, levelling
    from .resume import write_json_atomic, write_text_atomic
    from .seed_tables import comparisons_to_dict
    iters, seeds, num_val = setting['iters'], list(setting['seeds']), setting.get('num_val')
    num_train = setting.get('num_train')
    lr_schedule = setting.get('lr_schedule', 'step')
    cfg_options = dict(setting.get('cfg_options') or {})
    jobs = setting.get('jobs', 1)
    comparisons = compare_rows(results)
    # Rows whose curves are gone (no kept curves, no work dir) keep the check they had.
    level = dict(setting.get('levelling') or {}, **levelling(results))
    differences = dict(setting.get('difference_levelling') or {},
                       **difference_levelling(results))
    # Atomic (temporary file + os.replace): a kill mid-write leaves the previous file whole,
    # which is what a rerun of a stopped table reads its finished runs from.
    write_json_atomic(osp.join(out_dir, 'results.json'),
                      dict(iters=iters, seeds=seeds, num_val=num_val or 40,
                           num_train=num_train or DEMO_NUM_TRAIN,
                           val_points=setting.get('val_points', 5), lr_schedule=lr_schedule,
                           cfg_options=jsonable(cfg_options), jobs=jobs,
                           threads=setting.get('threads'), results=_jsonable(results),
                           summary=summarize(results),
                           comparisons=comparisons_to_dict(comparisons), levelling=level,
                           difference_levelling=differences),
                      indent=2)
    write_text_atomic(osp.join(out_dir, 'tables.md'),
                      format_tables(results, iters, seeds, num_val, comparisons,
                                    num_train=num_train, lr_schedule=lr_schedule,
                                    cfg_options=cfg_options, jobs=jobs)
                      + format_levelling(level, differences))


def load_results(out_dir: str) -> Tuple[Dict[str, Dict], Dict]:
    """Read a :func:`run_demo_tables` output back: ``(results, setting)`` in the in-memory
    form (``{row: {'name', 'config', 'tables', 'runs': {seed: run with 'per_image'}}}``) and
    the runs' ``iters``, ``seeds``, ``num_val``, ``num_train``, ``val_points``,
    ``lr_schedule``, ``cfg_options``, ``jobs``, ``threads`` and the saved convergence checks
    (``levelling``, ``difference_levelling``).

    Raises:
        DataError: no readable ``results.json`` in ``out_dir``.
    """
    from sair_toolbox.utils.errors import DataError
    path = osp.join(out_dir, 'results.json')
    try:
        with open(path, encoding='utf-8') as f:
            saved = json.load(f)
        rows = saved['results']
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f'{path}: not a demo_tables results.json ({exc})') from None
    results = {}
    for name, row in rows.items():
        runs = {}
        for seed, run in row.get('runs', {}).items():
            run = dict(run)
            records = row.get('per_image', {}).get(seed)
            if records:
                run['per_image'] = records
            runs[int(seed)] = run
        results[name] = dict({k: v for k, v in row.items() if k not in ('runs', 'per_image')},
                             runs=runs)
    setting = dict(iters=saved.get('iters'), seeds=saved.get('seeds', []),
                   num_val=saved.get('num_val'),
                   num_train=saved.get('num_train', DEMO_NUM_TRAIN),
                   val_points=saved.get('val_points', 5),
                   lr_schedule=saved.get('lr_schedule', 'step'),
                   cfg_options=saved.get('cfg_options') or {},
                   jobs=saved.get('jobs', 1), threads=saved.get('threads'),
                   levelling=saved.get('levelling') or {},
                   difference_levelling=saved.get('difference_levelling') or {})
    return results, setting


def rewrite_outputs(out_dir: str) -> Dict[str, Dict]:
    """Re-render ``tables.md``, ``results.json``, Fig. 4 and the sharp-fills figure of a
    finished output from its ``results.json`` and the runs' work dirs, without training
    (``tools/demo_tables.py --rewrite``): e.g. after a change of the tables' format."""
    from .figures import figure4
    results, setting = load_results(out_dir)
    write_outputs(out_dir, results, setting)
    if all(results.get(n, {}).get('runs') for n in ('SAIR', 'LIIF')):
        figure4(results, osp.join(out_dir, 'fig4_curves.png'))
    if setting['seeds']:
        sharp_fills_figure(results, osp.join(out_dir, 'fig_sharp_fills.png'),
                           setting['seeds'][0], setting['num_val'])
    return results


# ---------------------------------------------------------------------------------- main
def forget_table(out_dir: str, work_root: str) -> None:
    """Make a table start anew: remove its ``results.json`` and ``tables.md`` and the
    checkpoints of every run under ``work_root`` (``<work_root>/seed*/*``; logs stay)."""
    import glob

    from .resume import clear_checkpoints
    for name in ('results.json', 'tables.md'):
        if osp.isfile(osp.join(out_dir, name)):
            os.remove(osp.join(out_dir, name))
    for work_dir in glob.glob(osp.join(glob.escape(work_root), 'seed*', '*')):
        if osp.isdir(work_dir):
            clear_checkpoints(work_dir)


def _run_task(name: str, work_dir: str, options: Dict, seed: int, num_val: Optional[int],
              num_train: Optional[int], config_hook: Optional[Callable],
              fig3_path: Optional[str], deps: Optional[Dict] = None,
              identity: Optional[Mapping] = None) -> Dict:
    """One (row, seed) run as a :class:`~sair_toolbox.experiments.parallel.Task` function (in
    this process or a worker): :func:`run_variant`, Fig. 3 from the in-memory model when
    ``fig3_path`` is given, and the run without its in-memory parts."""
    from .figures import figure3
    variant = {v.name: v for v in VARIANTS}[name]
    done = {key[0]: run for key, run in (deps or {}).items()}  # the stage-one run
    run = run_variant(variant, work_dir, options, done, seed=seed, num_val=num_val,
                      num_train=num_train, config_hook=config_hook, identity=identity)
    if fig3_path is not None and '_model' in run:
        figure3(run, fig3_path)
    for key in ('_model', '_loader', '_text'):  # free the model
        run.pop(key, None)
    return run


def _identities(by_name: Mapping[str, Variant], keys: Sequence[Tuple[str, int]],
                work_dirs: Mapping[Tuple[str, int], str], options: Dict,
                settings: Mapping, num_val: Optional[int], num_train: Optional[int],
                config_hook: Optional[Callable]) -> Dict[Tuple[str, int], Dict]:
    """The :func:`~sair_toolbox.experiments.resume.run_identity` of every (row, seed) run, in
    ``keys`` order (a stage one before the rows that load it)."""
    from .resume import run_identity
    out: Dict[Tuple[str, int], Dict] = {}
    for name, seed in keys:
        variant = by_name[name]
        stage_one = out[(variant.stage_one, seed)] if variant.stage_one else None
        # The stage-one checkpoint's path is where, not what: its identity stands for it.
        done = ({variant.stage_one: dict(checkpoint=f'<{variant.stage_one} '
                                         f'{stage_one["fingerprint"]}>')}
                if stage_one else {})
        cfg = _load_cfg(variant, work_dirs[(name, seed)], options, done, seed=seed,
                        num_val=num_val, num_train=num_train, config_hook=config_hook)
        out[(name, seed)] = run_identity(cfg, dict(settings, config=variant.config, seed=seed),
                                         stage_one)
    return out


def _previous_runs(out_dir: str, keys: Sequence[Tuple[str, int]],
                   identities: Mapping[Tuple[str, int], Dict], by_name: Mapping[str, Variant],
                   log: Callable[[str], None]) -> Dict[Tuple[str, int], Dict]:
    """The finished runs of ``out_dir/results.json`` that stand for runs of this table (same
    identity, complete records).

    Raises:
        DataError: an unreadable ``results.json``.
        ConfigError: a recorded run of this table made with other settings (one line: which
            run, what differs, and the ways out).
    """
    from sair_toolbox.utils.errors import DataError

    from .resume import describe_mismatch, reusable
    path = osp.join(out_dir, 'results.json')
    if not osp.isfile(path):
        return {}
    try:
        old, _ = load_results(out_dir)
    except DataError as exc:
        raise DataError(f'{exc}; --fresh starts the table again') from None
    reused, mismatched = {}, []
    for key in keys:
        name, seed = key
        run = old.get(name, {}).get('runs', {}).get(seed)
        verdict = reusable(run, identities[key], by_name[name].test)
        if verdict:
            reused[key] = run
        elif verdict is False:
            mismatched.append((key, run))
    if mismatched:
        (name, seed), run = mismatched[0]
        more = f' (and {len(mismatched) - 1} more runs)' if len(mismatched) > 1 else ''
        if not run.get('identity'):
            raise ConfigError(
                f'{path}: {name} seed {seed}{more} recorded without a run identity (by an '
                'older version, before tables could be continued), so it cannot be told '
                'apart from a run of other settings; --fresh trains this table anew, or use '
                'another --out')
        raise ConfigError(
            f'{path}: {name} seed {seed} was trained with other settings{more}: '
            f'{describe_mismatch(run.get("identity"), identities[(name, seed)])}; run the '
            'command that made it to continue that table, --fresh to train this one anew, or '
            'another --out')
    others = sorted({f'{n} seed {s}' for n, row in old.items() for s in row.get('runs', {})
                     if (n, s) not in identities})
    if others:
        log(f'demo_tables: {path} also holds {", ".join(others)}, not part of this table: '
            'left out of it (their work dirs stay)')
    return reused


def run_demo_tables(out_dir: str = 'results/demo_tables',
                    work_root: str = 'work_dirs/demo_tables',
                    iters: int = 200,
                    names: Optional[Sequence[str]] = None,
                    log: Callable[[str], None] = print,
                    seeds: Sequence[int] = DEFAULT_SEEDS,
                    num_val: Optional[int] = DEFAULT_NUM_VAL,
                    num_train: Optional[int] = None,
                    val_points: int = 5,
                    lr_schedule: str = 'step',
                    cfg_options: Optional[Mapping] = None,
                    jobs: int = 1,
                    threads: Optional[int] = None,
                    config_hook: Optional[Callable] = None,
                    fresh: bool = False,
                    ckpt_interval: Optional[int] = None) -> Dict[str, Dict]:
    """Train and test the variants once per seed, write the tables (markdown + JSON) and figures.

    The runs start seed by seed (all rows of seed 0, then of seed 1...), so an interrupted run
    leaves complete seeds; the tables and ``results.json`` are rewritten (atomically) after
    every run.

    A stopped table continues where it stopped when called again with the same arguments
    (:mod:`~sair_toolbox.experiments.resume`): the runs ``out_dir/results.json`` records with
    the same identity (:func:`~sair_toolbox.experiments.resume.run_identity`) are taken from
    it, a run cut mid-training resumes from its last checkpoint (bit for bit as if never
    stopped), the others are trained; nothing is trained twice. A recorded run of this table
    made with other settings is refused (:class:`ConfigError`), never silently reused or
    retrained.

    Args:
        out_dir: where ``tables.md``, ``results.json`` and the PNG figures go.
        work_root: parent of the runs' work dirs (``<work_root>/seed<s>/<config stem>``).
        iters: the common schedule's length (:func:`schedule_options`).
        names: a subset of :data:`VARIANTS` by name (default: all; stage-one runs are added
            where needed).
        log: progress printer (one line per run with the elapsed and the estimated remaining
            time).
        seeds: the table seeds (distinct integers in ``[0, 2**31)``).
        num_val: val images of every run (:func:`set_num_val`; None: the configs' 40).
        num_train: training scenes of every run (:func:`set_num_train`; None: the configs'
            400).
        val_points: validations per run, evenly spaced (the points of Fig. 4's curves and of
            the convergence check, :func:`~sair_toolbox.experiments.convergence.levelling`).
        lr_schedule: the common learning-rate schedule (:func:`lr_scheduler_cfg`).
        cfg_options: dotted config overrides (``merge_from_dict`` form, e.g.
            ``{'model.sem_loss_weight': 0.1}``) applied to every row after the schedule: a
            change tried on all rows alike (keys a row's model does not read, such as the SIR
            loss weight for LIIF, leave that row as it is).
        jobs: runs at a time, each in its own worker process
            (:func:`~sair_toolbox.experiments.parallel.run_tasks`); 1: one after another in
            this process.
        threads: torch threads of every run (default: the usable CPUs divided by ``jobs`` when
            ``jobs > 1``, else torch's own setting). Part of what fixes a run's bits: the same
            seeds and thread count give the same results with any ``jobs``; each run records
            its ``threads``.
        config_hook: a function applied in place to every run's config after everything else
            (e.g. another data root); module-level, so that it can reach worker processes.
        fresh: ignore ``results.json`` and the runs' checkpoints: every run of this table is
            trained from the start (the records and checkpoints of its runs are cleared first,
            so that a fresh table stopped early does not continue the old one).
        ckpt_interval: iterations between checkpoints (:func:`schedule_options`; default: at
            every val point), i.e. at most what a stop costs a run.

    Returns:
        ``{name: {'name', 'config', 'tables', 'runs': {seed: run}}}`` (``run``: see
        :func:`run_variant`).

    Raises:
        ConfigError: unknown variant names, bad seeds, ``num_val``, ``jobs`` or ``threads``; a
            recorded run of this table made with other settings; another process training
            into the same ``work_root`` (:class:`~sair_toolbox.experiments.resume.
            folder_lock`).
        DataError: an unreadable ``results.json`` in ``out_dir`` (without ``fresh``).
    """
    from .resume import folder_lock, remove_stale_temporaries
    seeds = check_seeds(seeds)
    by_name = {v.name: v for v in VARIANTS}
    wanted = list(names) if names else list(by_name)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise ConfigError(f'unknown variants {unknown}; known: {list(by_name)}')
    for n in list(wanted):
        if by_name[n].stage_one and by_name[n].stage_one not in wanted:
            wanted.insert(wanted.index(n), by_name[n].stage_one)
    if num_val is not None:
        set_num_val({}, num_val)  # validates
    set_num_train({}, num_train)
    from .parallel import threads_per_job
    threads_per_job(jobs, threads)  # validates
    schedule_options(iters, val_points, lr_schedule=lr_schedule, ckpt_interval=ckpt_interval)
    os.makedirs(out_dir, exist_ok=True)
    with folder_lock(work_root):
        remove_stale_temporaries(out_dir)
        return _run_tables(out_dir, work_root, iters, wanted, log, seeds, num_val, num_train,
                           val_points, lr_schedule, cfg_options, jobs, threads, config_hook,
                           fresh, ckpt_interval)


def _run_tables(out_dir, work_root, iters, wanted, log, seeds, num_val, num_train, val_points,
                lr_schedule, cfg_options, jobs, threads, config_hook, fresh,
                ckpt_interval) -> Dict[str, Dict]:
    """:func:`run_demo_tables` once its arguments are checked and ``out_dir`` is locked."""
    import torch

    from .figures import figure4
    from .parallel import Task, run_tasks, threads_per_job
    from .resume import clear_checkpoints
    by_name = {v.name: v for v in VARIANTS}
    threads = threads_per_job(jobs, threads)
    options = schedule_options(iters, val_points, lr_schedule=lr_schedule,
                               ckpt_interval=ckpt_interval)
    options.update(cfg_options or {})
    setting = dict(iters=iters, seeds=seeds, num_val=num_val, num_train=num_train,
                   val_points=val_points, lr_schedule=lr_schedule,
                   cfg_options=dict(cfg_options or {}), jobs=jobs, threads=threads)
    results: Dict[str, Dict] = {
        n: dict(name=n, config=by_name[n].config, tables=list(by_name[n].tables), runs={})
        for n in wanted}
    keys = [(name, seed) for seed in seeds for name in wanted]
    work_dirs = {(name, seed): seed_work_dir(
        work_root, osp.splitext(osp.basename(by_name[name].config))[0], seed)
        for name, seed in keys}
    # What fixes a run's bits besides its config: the thread count each run will use.
    identities = _identities(
        by_name, keys, work_dirs, options,
        dict(iters=iters, val_points=val_points, lr_schedule=lr_schedule,
             num_train=num_train or DEMO_NUM_TRAIN, num_val=num_val or 40,
             cfg_options=dict(cfg_options or {}),
             threads=threads if threads is not None else torch.get_num_threads(),
             torch=torch.__version__),
        num_val, num_train, config_hook)
    results_path = osp.join(out_dir, 'results.json')
    if fresh:
        for key in keys:
            clear_checkpoints(work_dirs[key])
        if osp.isfile(results_path):
            log(f'demo_tables: --fresh: {results_path} and the checkpoints of this table\'s '
                'runs are set aside; every run is trained again')
        reused: Dict[Tuple[str, int], Dict] = {}
    else:
        reused = _previous_runs(out_dir, keys, identities, by_name, log)
    for (name, seed), run in reused.items():
        results[name]['runs'][seed] = run
    for row in results.values():
        row['runs'] = dict(sorted(row['runs'].items()))
    if reused or osp.isfile(results_path):
        # The table as asked for now (a --fresh one empty): a stop before the next run ends
        # leaves no records of other settings behind.
        write_outputs(out_dir, results, setting)
    if reused:
        log(f'demo_tables: {len(reused)} of {len(keys)} runs taken from {results_path} '
            '(finished with the same settings)')
    tasks = []
    for name, seed in keys:
        if (name, seed) in reused:
            continue
        variant = by_name[name]
        fig3 = (osp.join(out_dir, 'fig3_label_maps.png')
                if name == 'SAIR' and seed == seeds[0] else None)
        kwargs = dict(name=name, work_dir=work_dirs[(name, seed)], options=options,
                      seed=seed, num_val=num_val, num_train=num_train,
                      config_hook=config_hook, fig3_path=fig3,
                      identity=identities[(name, seed)])
        after: Tuple = ()
        if variant.stage_one:
            dep = (variant.stage_one, seed)
            if dep in reused:  # finished before: its checkpoint is what this run loads
                if not osp.isfile(reused[dep].get('checkpoint', '')):
                    raise ConfigError(
                        f'{variant.stage_one} seed {seed} is taken from {results_path} but '
                        f'its checkpoint {reused[dep].get("checkpoint")} is gone, and '
                        f'{name} loads it; --fresh trains the table again')
                kwargs['deps'] = {dep: reused[dep]}
            else:
                after = (dep, )
        tasks.append(Task(key=(name, seed), fn=_run_task, kwargs=kwargs, after=after))
    start = time.time()

    def draw_figures(seed):
        if all(results.get(n, {}).get('runs', {}).get(seed) for n in ('SAIR', 'LIIF')):
            figure4(results, osp.join(out_dir, 'fig4_curves.png'))
        if seed == seeds[0]:
            sharp_fills_figure(results, osp.join(out_dir, 'fig_sharp_fills.png'), seed, num_val)

    if not tasks:
        log(f'demo_tables: nothing to train: all {len(keys)} runs are in {results_path} '
            '(--fresh trains them again)')
        draw_figures(seeds[0])
        return results
    durations: Dict[str, List[float]] = {}
    for (name, _), run in reused.items():  # the time-left estimate starts from them
        durations.setdefault(name, []).append(run['seconds'])
    started: Dict = {}  # (row, seed) -> start time, in start order
    trained: Dict = {}  # (row, seed) -> run, of this call

    def on_start(task):
        started[task.key] = time.time()
        name, seed = task.key
        log(f'demo_tables: [{len(started)}/{len(tasks)}] {name} seed {seed} '
            f'({by_name[name].config})')

    def on_done(task, run):
        name, seed = task.key
        row = results[name]['runs']
        row[seed] = run
        trained[task.key] = run
        results[name]['runs'] = dict(sorted(row.items()))  # seed order, however runs finish
        durations.setdefault(name, []).append(run['seconds'])
        now = time.time()
        running = {k: now - t for k, t in started.items() if k not in trained}
        todo = [t.key[0] for t in tasks if t.key not in started]
        left = _eta(durations, todo, running, jobs) or 0
        to_go = len(tasks) - len(trained)
        log(f'demo_tables: {name} seed {seed} done in {run["seconds"]:.0f} s'
            + (f' (resumed at iteration {run["resumed_from"]})' if 'resumed_from' in run
               else '')
            + (f', PSNR {run["metrics"].get("all/PSNR", float("nan")):.2f} dB'
               if 'metrics' in run else '')
            + f'; {_clock(now - start)} elapsed, about {_clock(left)} left '
            f'({to_go} of {len(tasks)} runs to go)')
        write_outputs(out_dir, results, setting)
        if name in ('SAIR', 'LIIF') and all(results.get(n, {}).get('runs', {}).get(seed)
                                            for n in ('SAIR', 'LIIF')):
            figure4(results, osp.join(out_dir, 'fig4_curves.png'))
        if seed == seeds[0] and name in FILL_ROWS:
            sharp_fills_figure(results, osp.join(out_dir, 'fig_sharp_fills.png'), seed, num_val)

    run_tasks(tasks, jobs=jobs, threads=threads, on_start=on_start, on_done=on_done)
    if reused:  # figures of runs finished by an earlier call, drawn with this call's
        draw_figures(seeds[0])
    log(f'demo_tables: wrote {out_dir}/tables.md, results.json and figures in '
        f'{_clock(time.time() - start)}')
    return results
