"""SAIR − LIIF against the inpainter's training-set size on the demo world (encoder fixed).

    python tools/data_size_sweep.py [--out results/demo_datasize] [--sizes 50 100 400 1600]
                                    [--seeds 0 1 2] [--iters 200] [--num-val 120]
                                    [--reuse results/demo_tables] [--ckpt-interval N]
                                    [--fresh]

Trains SAIR and LIIF once per size and seed with the demo tables' common schedule (the same
iterations for every size), on nested training sets and the same val images, and writes
``sweep.md``, ``sweep.json`` and ``datasize_sweep.png`` into ``--out`` (each size's own tables
in ``n<size>/``). The 400-scene point is read from ``--reuse`` (a finished
``tools/demo_tables.py`` output) when its schedule, seeds and val images match; ``--reuse ''``
retrains it. See :mod:`sair_toolbox.experiments.data_size`.

A stopped sweep continues when the same command runs again, as ``tools/demo_tables.py`` does
(each size's table in ``n<size>/`` continues; finished sizes train nothing); ``--fresh``
trains the sweep's own runs anew (the ``--reuse`` table is only read).
"""
import argparse
import os.path as osp
import sys

from sair_toolbox.experiments.demo_tables import (DEFAULT_NUM_VAL, DEFAULT_SEEDS, LR_SCHEDULES,
                                                  default_work_root)
from sair_toolbox.utils.errors import cli_main


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog='data_size_sweep.py',
                                description="SAIR - LIIF against the inpainter's data size")
    p.add_argument('--out', default='results/demo_datasize', help='output folder')
    p.add_argument('--work-root', default=None,
                   help="parent of the runs' work dirs (default: work_dirs/<name of --out>)")
    p.add_argument('--sizes', nargs='+', type=int, default=None, metavar='N',
                   help='training scenes per run (default 50 100 400 1600)')
    p.add_argument('--seeds', nargs='+', type=int, default=None, metavar='SEED',
                   help='seeds (default 0 1 2)')
    p.add_argument('--iters', type=int, default=200, help='iterations of every run')
    p.add_argument('--num-val', type=int, default=None, metavar='N',
                   help='val images (default 120)')
    p.add_argument('--reuse', default='results/demo_tables', metavar='DIR',
                   help="a demo_tables output to take the matching size from ('' = never)")
    p.add_argument('--lr-schedule', choices=LR_SCHEDULES, default='step',
                   help="learning-rate schedule of every run (as demo_tables.py; 'paper' for "
                        'a converged sweep)')
    p.add_argument('--jobs', type=int, default=1, metavar='N',
                   help='runs at a time, each in its own process (as demo_tables.py --jobs)')
    p.add_argument('--threads', type=int, default=None, metavar='T',
                   help='torch threads of every run (as demo_tables.py --threads)')
    p.add_argument('--ckpt-interval', type=int, default=None, metavar='N',
                   help='iterations between checkpoints (as demo_tables.py --ckpt-interval)')
    p.add_argument('--fresh', action='store_true',
                   help="train the sweep's runs anew (as demo_tables.py --fresh)")
    args = p.parse_args(argv)
    if args.work_root is None:
        args.work_root = default_work_root(args.out)
    return args


@cli_main
def main(argv=None):
    args = parse_args(argv)
    from sair_toolbox.experiments.data_size import SIZES, run_data_size_sweep
    from sair_toolbox.utils.setup_env import tune_cpu_allocator
    tune_cpu_allocator()
    run_data_size_sweep(args.out, args.work_root, args.sizes or SIZES,
                        DEFAULT_SEEDS if args.seeds is None else args.seeds, args.iters,
                        DEFAULT_NUM_VAL if args.num_val is None else args.num_val,
                        args.reuse or None, log=lambda msg: print(msg, flush=True),
                        jobs=args.jobs, threads=args.threads, lr_schedule=args.lr_schedule,
                        fresh=args.fresh, ckpt_interval=args.ckpt_interval)
    print(open(osp.join(args.out, 'sweep.md'), encoding='utf-8').read())
    return 0


if __name__ == '__main__':
    sys.exit(main())
