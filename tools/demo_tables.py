"""The paper in miniature on the demo world: train and test every offline row, write the tables.

    python tools/demo_tables.py [--out results/demo_tables] [--work-root work_dirs/demo_tables]
                                [--iters 200] [--only SAIR LIIF ...]

Trains SAIR, LIIF, NFS, OUS, LTE/SemLTE, EDSR-LIIF/SAIR-EDSR and two-stage SIR (configs
``configs/sair/sair_demo.py`` and ``configs/sair/ablations/*_demo.py``) with one common schedule,
tests them on the demo val split and writes ``tables.md`` (Tab. 1, 4, 5, 6 and the semantic
diagnostics), ``results.json``, ``fig3_label_maps.png`` and ``fig4_curves.png`` into ``--out``.
About 18 minutes on 2 idle CPU cores at the default ``--iters`` (measured). See
:mod:`sair_toolbox.apis.demo_tables`.
"""
import argparse
import os.path as osp
import sys

_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(_ROOT, 'sair_toolbox')) and _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from sair_toolbox.utils.errors import cli_main  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog='demo_tables.py',
                                description="The paper's tables and figures on the demo world")
    p.add_argument('--out', default='results/demo_tables', help='output folder')
    p.add_argument('--work-root', default='work_dirs/demo_tables',
                   help="parent of the runs' work dirs")
    p.add_argument('--iters', type=int, default=200,
                   help='training iterations of every run (one common schedule)')
    p.add_argument('--only', nargs='+', metavar='NAME',
                   help='train only these rows (e.g. SAIR LIIF)')
    return p.parse_args(argv)


@cli_main
def main(argv=None):
    args = parse_args(argv)
    from sair_toolbox.apis.demo_tables import run_demo_tables
    from sair_toolbox.utils.setup_env import tune_cpu_allocator
    tune_cpu_allocator()
    run_demo_tables(args.out, args.work_root, args.iters, args.only,
                    log=lambda msg: print(msg, flush=True))
    print(open(osp.join(args.out, 'tables.md'), encoding='utf-8').read())
    return 0


if __name__ == '__main__':
    sys.exit(main())
