"""Evaluate a checkpoint on the config's test set and report the metrics per mask-ratio bin.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.json]
                         [--precision auto|fp32|bf16|fp16] [--cfg-options k=v ...]
                         [--launcher none|pytorch|slurm|mpi]
    python tools/test.py CONFIG CHECKPOINT --img-dir photos/ [--mask-dir masks/]

``--precision`` runs the model's forward under autocast (``PrecisionTestLoop``; the metrics stay
float32). ``auto`` (default) picks what fits the device and logs why: bf16 where the CPU's oneDNN
or the GPU has native bfloat16 kernels, fp16 on CUDA without bfloat16, else fp32
(:func:`sair_toolbox.utils.precision.resolve_precision`). ``fp32`` forces the config's own float32
loop; bf16 or fp16 force autocast where the device can run it (both on CPU; bf16 on CUDA needs a
GPU that supports it).

``--img-dir`` evaluates any folder of images instead of the config's test set: resized (shorter
side) and centre-cropped to ``--img-size`` (default: the config's ``img_size``), each with the
mask of the same file name from ``--mask-dir`` or, without it, a procedural mask fixed by the
image's index (bin i % 3).

Rank 0 prints the table and writes ``--out`` (JSON, plus a CSV beside it); without ``--out`` the
results go to ``<work_dir>/<timestamp>/results.json``. Multi-process:
``bash tools/dist_test.sh CONFIG CHECKPOINT N [args]``. User errors print one line, exit status 2.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from sair_toolbox.utils.errors import ConfigError, cli_main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a sair-toolbox checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for logs and results '
                        '(default: the config\'s work_dir, else ./work_dirs/<config name>)')
    parser.add_argument('--out', help='results file (.json; a .csv is written beside it)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
        help='override config entries, e.g. test_dataloader.batch_size=1; a top-level path '
        'variable (data_root=/data/x, mask_root, mask_list_dir, test_root) reaches every '
        'dataloader built from it')
    parser.add_argument('--precision', default='auto', type=str.lower,
                        choices=['auto', 'fp32', 'bf16', 'fp16'],
                        help='precision of the model forward: auto (default) picks bf16 where '
                        "the CPU's oneDNN or the GPU has native bfloat16 kernels, fp16 on CUDA "
                        'without bfloat16, else fp32, and logs why; or force fp32 | bf16 | fp16')
    parser.add_argument('--img-dir', help='evaluate this folder of images instead')
    parser.add_argument('--mask-dir', help='masks for --img-dir, paired by file name')
    parser.add_argument('--img-size', type=int, help='evaluation size for --img-dir '
                        '(default: the config\'s img_size, else 256)')
    parser.add_argument('--mask-polarity', default='white_is_hole',
                        choices=['white_is_hole', 'black_is_hole'],
                        help='which colour of the --mask-dir files is the hole')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def use_image_folder(cfg: Config, img_dir: str, mask_dir=None, img_size=None,
                     polarity: str = 'white_is_hole') -> None:
    """Point ``cfg.test_dataloader`` at a folder of images (and optionally paired masks)."""
    for folder, flag in ((img_dir, '--img-dir'), (mask_dir, '--mask-dir')):
        if folder is not None and not osp.isdir(folder):
            raise ConfigError(f'{flag} {folder} is not a folder')
    from sair_toolbox.apis.inputs import MIN_SIDE
    size = img_size or cfg.get('img_size', 256)
    if size < MIN_SIDE:
        raise ConfigError(f'--img-size {size} is too small: the model and SSIM need at least '
                          f'{MIN_SIDE}')
    bins = cfg.get('mask_bins', [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6)])
    # A paired mask is loaded before the geometric transforms so that it stays aligned.
    mask = (dict(type='LoadMask', polarity=polarity) if mask_dir else None)
    # A source image below the model's minimum would be blown up into a meaningless score.
    pipeline = [dict(type='LoadImage', min_size=MIN_SIDE)] + ([mask] if mask else []) + [
        dict(type='Resize', size=size, keep_ratio=True, interpolation='bicubic'),
        dict(type='CenterCrop', size=size)
    ] + ([] if mask else [dict(type='GenerateMask', bins=bins)]) + [
        dict(type='PackInpaintInputs', bins=bins)
    ]
    dataset = dict(type='ImageFolderDataset', data_root=img_dir, mask_dir=mask_dir,
                   test_mode=True, mask_seed=cfg.get('mask_seed', 0), pipeline=pipeline)
    loader = cfg.get('test_dataloader') or {}
    cfg.test_dataloader = dict(
        batch_size=loader.get('batch_size', 8), num_workers=loader.get('num_workers', 2),
        persistent_workers=False, drop_last=False,
        sampler=dict(type='DefaultSampler', shuffle=False), dataset=dataset)


def build_test_cfg(args: argparse.Namespace) -> Config:
    """The config that ``main`` tests with, after all command-line overrides."""
    if not osp.isfile(args.config):
        raise ConfigError(f'config file {args.config} does not exist')
    from sair_toolbox.utils.checkpoint import check_checkpoint_file
    check_checkpoint_file(args.checkpoint)  # one line before MMEngine's own torch.load
    from sair_toolbox.utils.config import merge_cfg_options
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)  # data_root=... also reaches every dataloader
    cfg.setdefault('default_scope', 'sair_toolbox')
    if args.mask_dir and not args.img_dir:
        raise ConfigError('--mask-dir needs --img-dir')
    if args.img_dir:
        use_image_folder(cfg, args.img_dir, args.mask_dir, args.img_size, args.mask_polarity)
    for key in ('test_dataloader', 'test_evaluator'):
        if cfg.get(key) is None:
            raise ConfigError(f'config {args.config} has no {key}')
    quiet_metric_tables(cfg.test_evaluator)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    use_precision(cfg, args.precision)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    return cfg


def quiet_metric_tables(evaluator) -> None:
    """Turn off the metrics' logged tables (InpaintingMetric, DistributionMetric): ``main``
    prints one table of all their numbers (once)."""
    metrics = evaluator.get('metrics', evaluator) if isinstance(evaluator, dict) else evaluator
    for metric in metrics if isinstance(metrics, (list, tuple)) else [metrics]:
        if isinstance(metric, dict) and metric.get('type') in ('InpaintingMetric',
                                                               'DistributionMetric'):
            metric['log_table'] = False


def use_precision(cfg: Config, precision: str) -> None:
    """Run the test loop at ``precision`` (``PrecisionTestLoop``); fp32 leaves the config as is.

    ``auto`` is resolved by the loop from the model's device (and logged); with a test loop of
    another type than ``TestLoop`` it leaves the config as is (that loop's own precision).
    """
    if precision == 'fp32':
        return
    loop = dict(cfg.get('test_cfg') or dict(type='TestLoop'))
    if loop.get('type', 'TestLoop') not in ('TestLoop', 'PrecisionTestLoop'):
        if precision == 'auto':
            return
        raise ConfigError(f'--precision needs test_cfg of type TestLoop, the config has '
                          f'{loop["type"]}')
    if precision != 'auto':
        import torch

        from sair_toolbox.utils.precision import check_precision
        check_precision(precision, 'cuda' if torch.cuda.is_available() else 'cpu')
    loop.pop('fp16', None)
    cfg.test_cfg = dict(loop, type='PrecisionTestLoop', precision=precision)


@cli_main
def main(argv=None) -> dict:
    """Test; returns the metrics dict (every rank)."""
    args = parse_args(argv)
    cfg = build_test_cfg(args)

    from mmengine.dist import is_main_process

    from sair_toolbox.engine.setup import build_runner
    from sair_toolbox.utils.checkpoint import checkpoint_errors
    from sair_toolbox.utils.dist import shutdown_distributed

    try:
        runner = build_runner(cfg, args.launcher)
        with checkpoint_errors(args.checkpoint):
            metrics = runner.test()
        main_process = is_main_process()
    finally:
        shutdown_distributed()

    if main_process:
        from sair_toolbox.evaluation.results_table import format_table, write_results
        name = osp.splitext(osp.basename(args.config))[0]
        print(format_table(metrics, title=f'{name} @ {osp.basename(args.checkpoint)}'))
        out = args.out or osp.join(runner.log_dir, 'results.json')
        write_results(metrics, out, config=args.config, checkpoint=args.checkpoint)
        print(f'results written to {out}')
    return metrics


if __name__ == '__main__':
    main()
