"""Sort a folder of masks into hole-ratio bins and write list files.

    python tools/sort_masks.py MASK_DIR OUT_DIR [--size 256] [--threshold 0.5]
                               [--polarity white_is_hole] [--jobs 4]

Each mask is binarised (1 = hole), resized to ``--size`` with nearest neighbour (the evaluation
size, so the ratio is the one the metrics see) and assigned to a bin by its hole fraction.
Writes ``OUT_DIR/0-20.txt``, ``20-40.txt``, ``40-60.txt`` (paths relative to MASK_DIR, for
``LoadMask(list_files=OUT_DIR)``), ``out_of_bins.txt`` (``path ratio``), ``unreadable.txt`` and
``summary.json``, and prints a summary.

Exit status: 0 on success, 1 if some mask files could not be read (lists are still written; the
files are named on stderr), 2 on a usage or data error (missing folder, no masks).
"""
import argparse
import sys

from sair_toolbox.datasets.image_io import POLARITIES
from sair_toolbox.datasets.masks.irregular_mask_set import sort_masks
from sair_toolbox.datasets.masks.ratio_bins import DEFAULT_BINS
from sair_toolbox.utils.errors import cli_main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Sort masks into hole-ratio bins (list files).')
    p.add_argument('mask_dir', help='folder of mask images (searched recursively)')
    p.add_argument('out_dir', help='where to write <bin>.txt, out_of_bins.txt, summary.json')
    p.add_argument('--size', type=int, nargs='+', default=[256],
                   help='evaluation size: S or H W; masks are resized to it before measuring')
    p.add_argument('--threshold', type=float, default=0.5,
                   help='binarisation threshold as a fraction of the maximum value (0.5)')
    p.add_argument('--polarity', choices=POLARITIES, default='white_is_hole',
                   help='which colour is the hole (default white_is_hole: NVIDIA irregular masks)')
    p.add_argument('--jobs', type=int, default=1, help='worker processes')
    args = p.parse_args(argv)
    if len(args.size) not in (1, 2):
        p.error('--size takes one or two integers')
    return args


@cli_main
def main(argv=None) -> int:
    args = parse_args(argv)
    size = args.size[0] if len(args.size) == 1 else tuple(args.size)
    summary = sort_masks(args.mask_dir, args.out_dir, size=size, threshold=args.threshold,
                         polarity=args.polarity, bins=DEFAULT_BINS, jobs=args.jobs)
    print(f'{summary["total"]} masks in {args.mask_dir} (measured at {summary["size"]}):')
    for name, count in summary['bins'].items():
        print(f'  {name:>6}%: {count}')
    print(f'  outside all bins: {summary["out_of_bins"]}')
    print(f'  unreadable: {len(summary["unreadable"])}')
    print(f'list files written to {args.out_dir}')
    for path, reason in summary['unreadable_reasons'].items():
        print(f'sort_masks: unreadable mask {path}: {reason}', file=sys.stderr)
    return 1 if summary['unreadable'] else 0


if __name__ == '__main__':
    sys.exit(main())
