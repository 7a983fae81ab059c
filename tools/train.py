"""Train a model from a config with MMEngine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT|auto]] [--amp] [--seed N]
                          [--auto-scale-lr] [--cfg-options k=v ...]
                          [--launcher none|pytorch|slurm|mpi]

Multi-process: ``bash tools/dist_train.sh CONFIG N [args]`` (torchrun; gloo on CPU machines).
User errors (missing config, data, weights, checkpoint) print one line and exit with status 2;
``SAIR_DEBUG=1`` shows the traceback. Exact resumption needs a fixed ``randomness.seed`` (the
samplers are seeded before the checkpoint is read) and ``RNGStateHook`` in ``custom_hooks``.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction

from sair_toolbox.utils.errors import ConfigError, cli_main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a sair-toolbox model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints '
                        '(default: the config\'s work_dir, else ./work_dirs/<config name>)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto', metavar='CKPT|auto',
        help='resume from a checkpoint; without a value (or "auto") from the latest checkpoint '
        'in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision: float16 AmpOptimWrapper on CUDA, '
                        'bfloat16 AutocastOptimWrapper without CUDA')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr linearly with the total batch size '
                        '(auto_scale_lr.base_batch_size of the config)')
    parser.add_argument('--seed', type=int, help='random seed (overrides randomness.seed)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
        help='override config entries, e.g. train_cfg.max_iters=100 '
        'train_dataloader.batch_size=4; a top-level path variable (data_root=/data/x, mask_root, '
        'mask_list_dir, train_root, test_root) reaches every dataloader built from it')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path: str, cfg_options=None) -> Config:
    """``Config.fromfile`` with a one-line error for a missing file, then ``--cfg-options``."""
    if not osp.isfile(path):
        raise ConfigError(f'config file {path} does not exist')
    from sair_toolbox.utils.config import merge_cfg_options
    cfg = Config.fromfile(path)
    merge_cfg_options(cfg, cfg_options)  # data_root=... also reaches every dataloader
    cfg.setdefault('default_scope', 'sair_toolbox')
    return cfg


def default_work_dir(cfg: Config, config_path: str, work_dir=None) -> str:
    """``--work-dir``, else the config's ``work_dir``, else ``./work_dirs/<config stem>``."""
    if work_dir is not None:
        return work_dir
    if cfg.get('work_dir') is not None:
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def check_amp(cfg: Config, enable: bool) -> None:
    """Switch the optim wrapper to mixed precision for ``--amp``; fail in one line where the
    configured wrapper cannot run.

    With CUDA: MMEngine's ``AmpOptimWrapper`` (float16 autocast, dynamic loss scaling). Without:
    ``AutocastOptimWrapper`` (bfloat16 autocast, no scaler), because MMEngine 0.10's
    ``AmpOptimWrapper`` asserts an accelerator and uses ``torch.cuda.amp``'s GradScaler.
    """
    import torch
    optim_wrapper = cfg.get('optim_wrapper')
    amp_types = ('AmpOptimWrapper', 'AutocastOptimWrapper')
    if enable:
        if optim_wrapper is None:
            raise ConfigError('--amp needs an optim_wrapper in the config')
        if optim_wrapper.get('type', 'OptimWrapper') in amp_types:
            print(f'train.py: --amp: the config already uses {optim_wrapper.type}',
                  file=sys.stderr)
        elif torch.cuda.is_available():
            optim_wrapper.type = 'AmpOptimWrapper'
            optim_wrapper.setdefault('loss_scale', 'dynamic')
        else:
            optim_wrapper.type = 'AutocastOptimWrapper'
            optim_wrapper.setdefault('dtype', 'bfloat16')
    if (optim_wrapper is not None and optim_wrapper.get('type') == 'AmpOptimWrapper'
            and not torch.cuda.is_available()):
        raise ConfigError(
            'AmpOptimWrapper (float16 with loss scaling) needs CUDA: MMEngine\'s AmpOptimWrapper '
            'does not support CPU autocast; use --amp without it in the config (bfloat16 '
            'AutocastOptimWrapper on CPU)')


def build_train_cfg(args: argparse.Namespace) -> Config:
    """The config that ``main`` trains with, after all command-line overrides."""
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = default_work_dir(cfg, args.config, args.work_dir)
    check_amp(cfg, args.amp)
    if args.auto_scale_lr:
        scale = cfg.get('auto_scale_lr')
        if not scale or 'base_batch_size' not in scale:
            raise ConfigError(f'--auto-scale-lr needs auto_scale_lr.base_batch_size in '
                              f'{args.config}')
        scale.enable = True
    if args.seed is not None:
        randomness = dict(cfg.get('randomness') or {})
        randomness['seed'] = args.seed
        cfg.randomness = randomness
    # A checkpoint that is not one fails here in one line, before MMEngine's own torch.load.
    from sair_toolbox.utils.checkpoint import check_checkpoint_file
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
        from mmengine.runner import find_latest_checkpoint
        latest = find_latest_checkpoint(cfg.work_dir)  # what the Runner resumes from
        if latest is not None:
            check_checkpoint_file(latest, f'the latest checkpoint of {cfg.work_dir}, --resume')
    elif args.resume is not None:
        check_checkpoint_file(args.resume, '--resume')
        cfg.resume = True
        cfg.load_from = args.resume
    elif cfg.get('load_from') and '://' not in str(cfg.load_from):
        check_checkpoint_file(cfg.load_from, 'load_from')
    return cfg


@cli_main
def main(argv=None):
    """Train; returns the Runner (for scripts that inspect it afterwards)."""
    args = parse_args(argv)
    cfg = build_train_cfg(args)

    from sair_toolbox.utils.checkpoint import checkpoint_errors
    from sair_toolbox.utils.dist import shutdown_distributed
    from sair_toolbox.engine.setup import build_runner

    try:
        runner = build_runner(cfg, args.launcher)
        with checkpoint_errors(cfg.get('load_from') or cfg.work_dir):
            runner.train()
    finally:
        shutdown_distributed()
    return runner


if __name__ == '__main__':
    main()
