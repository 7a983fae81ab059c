"""The paper in miniature on the demo world: train and test every offline row, write the tables.

    python tools/demo_tables.py [--out results/demo_tables] [--work-root work_dirs/<out name>]
                                [--iters 200] [--seeds 0 1 2] [--num-val 120]
                                [--only SAIR LIIF ...] [--num-train 400] [--val-points 5]
                                [--lr-schedule step|cosine|paper] [--jobs N] [--threads T]
                                [--cfg-options KEY=VALUE ...] [--ckpt-interval N] [--fresh]
    python tools/demo_tables.py --rewrite [--out results/demo_tables]

Trains SAIR, LIIF, NFS, OUS, SAIR with the demo SAM encoder, LTE/SemLTE, EDSR-LIIF/SAIR-EDSR and
two-stage SIR (configs ``configs/sair/sair_demo.py`` and ``configs/sair/ablations/*_demo.py``)
with one common schedule, once per seed (the model, data and mask seeds of a run all come from
its seed, the same for every row), tests them on ``--num-val`` demo val images and writes into
``--out``: ``tables.md`` (Tab. 1, 4, 5, 6 and the semantic diagnostics as mean ± std over seeds;
the paper's paired differences, SAIR − LIIF etc., with 95 % confidence intervals and whether
each is distinguishable from zero), ``results.json`` (also every per-image score),
``fig3_label_maps.png`` and ``fig4_curves.png`` (mean ± std bands). One progress line per
(row, seed) with the elapsed and the estimated remaining time. See
:mod:`sair_toolbox.experiments.demo_tables`.

A table stopped at any point (a time limit, a killed process, a preempted job) continues when
the same command runs again: the runs ``--out``'s ``results.json`` records with the same
settings are taken from it, a run cut mid-training resumes from its last checkpoint (every val
point, or every ``--ckpt-interval`` iterations) bit for bit, and nothing is trained twice; a
recorded run made with other settings is refused in one line. ``--fresh`` trains the table
anew. See :mod:`sair_toolbox.experiments.resume`.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

from sair_toolbox.experiments.demo_tables import (DEFAULT_NUM_VAL, DEFAULT_SEEDS, LR_SCHEDULES,
                                                  default_work_root, rewrite_outputs,
                                                  run_demo_tables)
from sair_toolbox.utils.errors import cli_main


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog='demo_tables.py',
                                description="The paper's tables and figures on the demo world")
    p.add_argument('--out', default='results/demo_tables', help='output folder')
    p.add_argument('--work-root', default=None,
                   help="parent of the runs' work dirs (default: work_dirs/<name of --out>)")
    p.add_argument('--iters', type=int, default=200,
                   help='training iterations of every run (one common schedule)')
    p.add_argument('--only', nargs='+', metavar='NAME',
                   help="train only these rows (e.g. SAIR LIIF; 'SAIR (SAM)' for the SAM row)")
    p.add_argument('--seeds', nargs='+', type=int, default=None, metavar='SEED',
                   help='train every row once per seed (default 0 1 2); the t intervals need '
                        'at least 2')
    p.add_argument('--num-val', type=int, default=None, metavar='N',
                   help='demo val images of every run (default 120; 40 is the demo configs\' '
                        'own split in data/demo, other sizes go to data/demo_val<N>)')
    p.add_argument('--num-train', type=int, default=None, metavar='N',
                   help="demo training scenes of every run (default 400, the demo configs'; "
                        'other sizes go to data/demo_train<N>...)')
    p.add_argument('--val-points', type=int, default=5, metavar='K',
                   help='validations per run, evenly spaced (Fig. 4 and the convergence '
                        'check; default 5)')
    p.add_argument('--lr-schedule', choices=LR_SCHEDULES, default='step',
                   help='learning-rate schedule of every run: halved at 75 %% (default, as the '
                        'demo configs), cosine decay to 1 %%, or halved at 50 %% (the '
                        "paper's shape; the convergence runs)")
    p.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                   help='config overrides applied to every row alike (e.g. '
                        'model.sem_loss_weight=0.1; keys a row does not read leave it as it is)')
    p.add_argument('--jobs', type=int, default=1, metavar='N',
                   help='runs at a time, each in its own process (default 1); with 2 single-'
                        'thread runs a 2-core machine finishes about 25 %% sooner')
    p.add_argument('--threads', type=int, default=None, metavar='T',
                   help='torch threads of every run (default: the CPUs divided by --jobs, or '
                        "torch's own setting with --jobs 1); results are bitwise reproducible "
                        'for the same seeds and thread count')
    p.add_argument('--ckpt-interval', type=int, default=None, metavar='N',
                   help='iterations between checkpoints, what a stopped run resumes from '
                        '(default: every val point); not part of a run\'s settings')
    p.add_argument('--fresh', action='store_true',
                   help="train every run of the table anew: ignore --out's results.json and "
                        "the runs' checkpoints (without it, a stopped table continues)")
    p.add_argument('--rewrite', action='store_true',
                   help="re-render --out's tables and figures from its results.json and the "
                        'work dirs, without training')
    args = p.parse_args(argv)
    if args.work_root is None:
        args.work_root = default_work_root(args.out)
    return args


@cli_main
def main(argv=None):
    args = parse_args(argv)
    from sair_toolbox.utils.setup_env import tune_cpu_allocator
    if args.rewrite:
        rewrite_outputs(args.out)
        print(open(osp.join(args.out, 'tables.md'), encoding='utf-8').read())
        return 0
    tune_cpu_allocator()
    run_demo_tables(args.out, args.work_root, args.iters, args.only,
                    log=lambda msg: print(msg, flush=True),
                    seeds=DEFAULT_SEEDS if args.seeds is None else args.seeds,
                    num_val=DEFAULT_NUM_VAL if args.num_val is None else args.num_val,
                    num_train=args.num_train, val_points=args.val_points,
                    lr_schedule=args.lr_schedule, cfg_options=args.cfg_options,
                    jobs=args.jobs, threads=args.threads, fresh=args.fresh,
                    ckpt_interval=args.ckpt_interval)
    print(open(osp.join(args.out, 'tables.md'), encoding='utf-8').read())
    return 0


if __name__ == '__main__':
    sys.exit(main())
