"""Plot validation PSNR and training loss against iteration from the runs' scalar logs.

    python tools/plot_curves.py WORK_DIR [WORK_DIR ...] [--keys all/PSNR loss]
                                [--labels A B ...] [--smooth N] [--out curves.png]

Each WORK_DIR is a training work dir (its ``<timestamp>/vis_data/scalars.json`` logs, several
when the run was resumed, are merged); every run is one line per panel, labelled by the work
dir's name. Any logged key can be drawn (``loss_l1``, ``lr``, ``40-60/PSNR``, ...). The library
side is :mod:`sair_toolbox.visualization.curves`.
"""
import argparse

from sair_toolbox.utils.errors import cli_main
from sair_toolbox.visualization.curves import DEFAULT_KEYS, load_runs, plot_curves


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Plot training curves of one or more runs')
    parser.add_argument('work_dirs', nargs='+', metavar='WORK_DIR', help='training work dirs')
    parser.add_argument('--keys', nargs='+', default=list(DEFAULT_KEYS),
                        help='logged scalars to draw, one panel each (default: %(default)s)')
    parser.add_argument('--labels', nargs='+', help='legend labels, one per work dir '
                        '(default: the work dirs\' names)')
    parser.add_argument('--smooth', type=int, default=1,
                        help='moving-average window for loss curves, in logged points '
                        '(default: 1, raw values)')
    parser.add_argument('--log-y', nargs='*', default=[], metavar='KEY',
                        help='keys drawn on a logarithmic y axis')
    parser.add_argument('--title', help='figure title')
    parser.add_argument('--out', default='curves.png',
                        help='output image (.png, .pdf, .svg; default: %(default)s)')
    return parser.parse_args(argv)


@cli_main
def main(argv=None) -> str:
    args = parse_args(argv)
    runs = load_runs(args.work_dirs, args.labels)
    plot_curves(runs, args.keys, args.out, smooth=args.smooth, title=args.title,
                log_y=args.log_y)
    print(f'curves of {len(runs)} run(s) written to {args.out}')
    return args.out


if __name__ == '__main__':
    main()
