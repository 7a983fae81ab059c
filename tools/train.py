"""Train a model from a config with MMEngine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT|auto]]
                          [--precision auto|fp32|bf16|fp16] [--amp] [--seed N]
                          [--auto-scale-lr] [--cfg-options k=v ...]
                          [--launcher none|pytorch|slurm|mpi]

Precision: every config trains with ``AutocastOptimWrapper(dtype='auto')``, which picks what fits
the device when training starts and logs why (bf16 where the CPU's oneDNN or the GPU has native
bfloat16 kernels, fp16 with loss scaling on CUDA without bfloat16, else plain float32).
``--precision`` sets the wrapper's dtype (``fp32``: plain float32, exactly ``OptimWrapper``'s
steps); ``--amp`` is an alias of forcing mixed precision (bf16 on CPU; bf16 or fp16 on CUDA).

Multi-process: ``bash tools/dist_train.sh CONFIG N [args]`` (torchrun; gloo on CPU machines).
User errors (missing config, data, weights, checkpoint) print one line and exit with status 2;
``SAIR_DEBUG=1`` shows the traceback. Exact resumption needs a fixed ``randomness.seed`` (the
samplers are seeded before the checkpoint is read) and ``RNGStateHook`` in ``custom_hooks``.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from sair_toolbox.utils.errors import ConfigError, cli_main

#: ``--precision`` -> ``AutocastOptimWrapper``'s dtype.
PRECISION_DTYPES = {'auto': 'auto', 'fp32': 'float32', 'bf16': 'bfloat16', 'fp16': 'float16'}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a sair-toolbox model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints '
                        '(default: the config\'s work_dir, else ./work_dirs/<config name>)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto', metavar='CKPT|auto',
        help='resume from a checkpoint; without a value (or "auto") from the latest checkpoint '
        'in the work dir')
    parser.add_argument('--precision', type=str.lower, choices=list(PRECISION_DTYPES),
                        default=None,
                        help="training precision, the optim wrapper's dtype (default: the "
                        "config's, auto in every config): auto picks bf16 where the CPU's oneDNN "
                        'or the GPU has native bfloat16 kernels, fp16 with loss scaling on CUDA '
                        'without bfloat16, else fp32 (plain float32), and logs why; or force '
                        'fp32 | bf16 | fp16')
    parser.add_argument('--amp', action='store_true',
                        help='alias of forcing mixed precision: --precision bf16 on CPU, auto '
                        '(bf16, or fp16 with loss scaling) on CUDA')
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


def use_precision(cfg: Config, precision=None, amp: bool = False) -> None:
    """Set the optim wrapper's precision for ``--precision`` / ``--amp``; fail in one line where
    the configured wrapper cannot run.

    ``precision`` (``auto | fp32 | bf16 | fp16``) becomes ``AutocastOptimWrapper``'s ``dtype``
    (a plain ``OptimWrapper`` is switched to it; ``fp32`` leaves a plain one as it is). ``amp``
    forces mixed precision: ``bf16`` on CPU, ``auto`` on CUDA (bf16, else fp16 with loss
    scaling). With ``MultiOptimWrapperConstructor`` (the GAN configs) every sub-wrapper follows.
    MMEngine's ``AmpOptimWrapper`` asserts an accelerator: a config with it needs CUDA.
    """
    import torch
    optim_wrapper = cfg.get('optim_wrapper')
    cuda = torch.cuda.is_available()
    if amp:
        if precision == 'fp32':
            raise ConfigError('--amp (mixed precision) contradicts --precision fp32')
        precision = precision or ('auto' if cuda else 'bf16')
    if precision is not None:
        flag = '--amp' if amp else '--precision'
        if optim_wrapper is None:
            raise ConfigError(f'{flag} needs an optim_wrapper in the config')
        if precision == 'fp16' and not cuda:
            raise ConfigError('--precision fp16 needs CUDA (float16 trains with loss scaling, '
                              'done on CUDA only); use auto, bf16 or fp32 on this machine')
        dtype, plain = PRECISION_DTYPES[precision], precision == 'fp32'
        if optim_wrapper.get('constructor') == 'MultiOptimWrapperConstructor':
            from sair_toolbox.engine.optim_wrappers.multi_optim_wrapper_constructor import \
                SHARED_KEYS
            subs = [v for k, v in optim_wrapper.items()
                    if isinstance(v, dict) and k not in SHARED_KEYS + ('paramwise_cfg', )]
        else:
            subs, optim_wrapper = [optim_wrapper], None
        for sub in subs:
            kind = sub.get('type', 'OptimWrapper')
            if kind not in ('OptimWrapper', 'AutocastOptimWrapper'):
                raise ConfigError(f'{flag} needs OptimWrapper or AutocastOptimWrapper (whose '
                                  f'dtype it sets); the config has {kind}')
            if kind == 'AutocastOptimWrapper' or not plain:
                sub.update(type='AutocastOptimWrapper', dtype=dtype)
        if optim_wrapper is not None:  # top-level keys are the sub-wrappers' defaults
            optim_wrapper.pop('dtype', None)
            if optim_wrapper.get('type') not in (None, 'OptimWrapper', 'AutocastOptimWrapper'):
                raise ConfigError(f'{flag} needs OptimWrapper or AutocastOptimWrapper; the '
                                  f'config has {optim_wrapper.type}')
            if not plain or optim_wrapper.get('type') == 'AutocastOptimWrapper':
                optim_wrapper.update(type='AutocastOptimWrapper', dtype=dtype)
        optim_wrapper = cfg.get('optim_wrapper')
    if (optim_wrapper is not None and optim_wrapper.get('type') == 'AmpOptimWrapper'
            and not cuda):
        raise ConfigError(
            'AmpOptimWrapper (float16 with loss scaling) needs CUDA: MMEngine\'s AmpOptimWrapper '
            'does not support CPU autocast; use AutocastOptimWrapper (dtype auto or bfloat16) '
            'on CPU')


def build_train_cfg(args: argparse.Namespace) -> Config:
    """The config that ``main`` trains with, after all command-line overrides."""
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = default_work_dir(cfg, args.config, args.work_dir)
    use_precision(cfg, args.precision, args.amp)
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

    from sair_toolbox.engine.setup import build_runner
    from sair_toolbox.utils.checkpoint import checkpoint_errors
    from sair_toolbox.utils.dist import shutdown_distributed

    try:
        runner = build_runner(cfg, args.launcher)
        with checkpoint_errors(cfg.get('load_from') or cfg.work_dir):
            runner.train()
    finally:
        shutdown_distributed()
    return runner


if __name__ == '__main__':
    main()
