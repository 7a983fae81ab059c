"""Generate the embedded demo data set (procedural landscapes with per-pixel labels).

    python tools/make_demo_data.py [--out data/demo] [--size 64] [--num-train 400]
                                   [--num-val 40] [--seed 0] [--force]

Deterministic: the same arguments give byte-identical files. ``DemoDataset`` runs the same
generation automatically on first use, so this tool is only needed to pre-build or rebuild.
"""
import argparse
import os.path as osp
import shutil
import sys
import time

try:
    import sair_toolbox  # noqa: F401
except ImportError:  # running from a checkout without ``pip install -e .``
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sair_toolbox.datasets.demo_scenes import DEMO_CLASSES, ensure_demo_data  # noqa: E402
from sair_toolbox.utils.errors import cli_main  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Generate the demo data set.')
    p.add_argument('--out', default='data/demo', help='output folder (default data/demo)')
    p.add_argument('--size', type=int, default=64, help='image side in pixels (>= 16)')
    p.add_argument('--num-train', type=int, default=400)
    p.add_argument('--num-val', type=int, default=40)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--force', action='store_true', help='delete an existing --out first')
    return p.parse_args(argv)


@cli_main
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.force and osp.exists(args.out):
        shutil.rmtree(args.out)
    start = time.time()
    made = ensure_demo_data(args.out, args.size, args.num_train, args.num_val, args.seed)
    verb = 'generated' if made else 'already present:'
    print(f'{verb} {args.num_train} train + {args.num_val} val images of {args.size}x{args.size} '
          f'with {len(DEMO_CLASSES)} classes in {args.out} ({time.time() - start:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
