"""Time the implicit heads' fast path against the plain reference, in one run.

The reference is the official LIIF / LTE ``query_rgb`` transcribed in
``tests/test_models/test_implicit_heads/reference.py`` (grid_sample, unfold, full MLP per
neighbour), evaluated in query chunks so that memory stays bounded. Both use the same weights;
the table reports median wall times (inference, ``torch.no_grad``), the speed-up ratio and the
largest absolute difference between the two outputs.

Cases (``S = --size``): LIIF as SIR (grid S/16 x S/16, 512 + 1 channels in, 512 out, all S x S
pixel centres), LIIF as AIR (grid S x S, 64 + 512 channels in, RGB out, S x S queries), the same at
a non-integer scale (1.5 S x 1.5 S queries), LTE as AIR at both scales, and LIIF AIR at scale 1
with neighbour pruning off (to show what pruning contributes).

Examples::

    python tools/benchmark.py                  # S = 256, 3 repeats
    python tools/benchmark.py --quick          # smoke run, a few seconds
    python tools/benchmark.py --threads 2 --repeat 5 --case liif_air_x1
    python tools/benchmark.py --allocator compare --fast-only   # glibc default vs tuned

``--allocator tuned`` (default) applies ``sair_toolbox.utils.setup_env.tune_cpu_allocator`` as the
tools do; ``glibc`` leaves the allocator alone; ``compare`` runs the benchmark once with each, in
two child processes (the setting cannot be undone inside a process).
"""
import argparse
import importlib.util
import os.path as osp
import statistics
import subprocess
import sys
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sair_toolbox.models.implicit_heads.coords import make_cell, make_coord  # noqa: E402
from sair_toolbox.models.implicit_heads.liif_head import LIIFHead  # noqa: E402
from sair_toolbox.models.implicit_heads.lte_head import LTEHead  # noqa: E402
from sair_toolbox.utils.errors import ConfigError, cli_main  # noqa: E402
from sair_toolbox.utils.setup_env import tune_cpu_allocator  # noqa: E402

REFERENCE = osp.join(ROOT, 'tests', 'test_models', 'test_implicit_heads', 'reference.py')

SEM_CHANNELS = 512  # CLIP ViT-B/16 text-aligned embedding
APP_CHANNELS = 64  # appearance encoder output


def load_reference():
    """Import the plain reference implementations from the tests folder."""
    if not osp.isfile(REFERENCE):
        raise ConfigError(f'reference implementation not found at {REFERENCE}')
    spec = importlib.util.spec_from_file_location('sair_implicit_heads_reference', REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_cases(size: int):
    """Benchmark cases at image size ``size``: (key, label, head factory, grid, out size, kind)."""
    sem = size // 16
    if sem < 1:
        raise ConfigError(f'--size must be >= 16 (SIR grid is size/16), got {size}')
    big = size * 3 // 2
    air_in = APP_CHANNELS + SEM_CHANNELS
    sir = f'x{size / sem:g}'
    return [
        ('liif_sir_x16', f'LIIF SIR {sir}', lambda: LIIFHead(SEM_CHANNELS + 1, SEM_CHANNELS),
         (sem, sem), (size, size), 'liif'),
        ('liif_air_x1', 'LIIF AIR x1', lambda: LIIFHead(air_in, 3), (size, size), (size, size),
         'liif'),
        ('liif_air_x1_noprune', 'LIIF AIR x1 noprune',
         lambda: LIIFHead(air_in, 3, prune_eps=0.0), (size, size), (size, size), 'liif'),
        ('liif_air_x1.5', 'LIIF AIR x1.5', lambda: LIIFHead(air_in, 3), (size, size), (big, big),
         'liif'),
        ('lte_air_x1', 'LTE AIR x1', lambda: LTEHead(air_in, 3), (size, size), (size, size), 'lte'),
        ('lte_air_x1.5', 'LTE AIR x1.5', lambda: LTEHead(air_in, 3), (size, size), (big, big),
         'lte'),
    ]


def median_time(fn, repeat: int):
    """Median wall time (s) of ``repeat`` calls and the last result."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, default=256, help='image size S (default 256)')
    parser.add_argument('--repeat', type=int, default=3, help='timed runs per case (median)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--batch', type=int, default=1, help='batch size (default 1)')
    parser.add_argument('--chunk', type=int, default=None,
                        help="queries per chunk of the fast path (default: the head's default)")
    parser.add_argument('--ref-chunk', type=int, default=8192,
                        help='queries per chunk of the reference (bounds its memory)')
    parser.add_argument('--case', action='append', default=None,
                        help='run only this case key (repeatable); default all')
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: size 32, 1 repeat (a few seconds)')
    parser.add_argument('--fast-only', action='store_true',
                        help='time the fast path only (no reference, no ratio)')
    parser.add_argument('--allocator', choices=('tuned', 'glibc', 'compare'), default='tuned',
                        help='tuned: keep freed memory in-process as the tools do (default); '
                        'glibc: allocator defaults; compare: run both in child processes')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def compare_allocators(argv) -> None:
    """Run this script with ``--allocator glibc`` and ``--allocator tuned`` and print both."""
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == '--allocator':
            skip = True
        elif not arg.startswith('--allocator='):
            rest.append(arg)
    for mode in ('glibc', 'tuned'):
        print(f'== allocator: {mode}', flush=True)
        proc = subprocess.run([sys.executable, osp.abspath(__file__), *rest, '--allocator', mode],
                              check=False)
        if proc.returncode:
            raise ConfigError(f'the --allocator {mode} run failed (exit {proc.returncode})')


@cli_main
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.allocator == 'compare':
        compare_allocators(argv)
        return
    tuned = tune_cpu_allocator() if args.allocator == 'tuned' else False
    if args.quick:
        args.size, args.repeat = 32, 1
    if args.repeat < 1 or args.batch < 1 or args.ref_chunk < 1:
        raise ConfigError('--repeat, --batch and --ref-chunk must be >= 1')
    if args.threads:
        torch.set_num_threads(args.threads)
    ref = load_reference()
    cases = build_cases(args.size)
    if args.case:
        unknown = sorted(set(args.case) - {c[0] for c in cases})
        if unknown:
            raise ConfigError(f'unknown case {unknown}; choose from '
                              f'{[c[0] for c in cases]}')
        cases = [c for c in cases if c[0] in args.case]

    print(f'implicit-head benchmark: torch {torch.__version__}, {torch.get_num_threads()} '
          f'threads, batch {args.batch}, size {args.size}, repeat {args.repeat} (median), '
          f'reference chunk {args.ref_chunk}, allocator '
          f'{"tuned" if tuned else "glibc defaults"}')
    header = (f'{"case":<20} {"grid":>9} {"C_in":>5} {"out":>4} {"queries":>9} '
              f'{"fast ms":>10} {"ref ms":>10} {"ratio":>7} {"max|diff|":>10}')
    print(header)
    print('-' * len(header))
    b = args.batch
    for key, label, factory, grid, out_size, kind in cases:
        torch.manual_seed(args.seed)
        head = factory().eval()
        if args.chunk:
            head.chunk_size = args.chunk
        feat = torch.randn(b, head.in_channels, *grid)
        n = out_size[0] * out_size[1]
        coord = make_coord(out_size).unsqueeze(0).expand(b, -1, -1)
        cell = make_cell(out_size, n, b)
        skip = torch.randn(b, head.out_channels, *grid) if head.global_skip else None
        if kind == 'liif':
            def run_ref():
                return ref.liif_query(head, feat, coord, cell, skip, chunk=args.ref_chunk)
        else:
            def run_ref():
                return ref.lte_query(head, feat, coord, cell, skip, chunk=args.ref_chunk)

        def run_fast():
            return head(feat, coord, cell, skip)

        with torch.no_grad():
            # Warm-up on a few queries (kernel selection, allocator).
            head(feat, coord[:, :64], cell[:, :64], skip)
            fast_s, fast_out = median_time(run_fast, args.repeat)
            if args.fast_only:
                ref_ms, ratio, diff = '-', '-', '-'
            else:
                ref_s, ref_out = median_time(run_ref, args.repeat)
                ref_ms, ratio = f'{ref_s * 1e3:.1f}', f'{ref_s / fast_s:.2f}x'
                diff = f'{(fast_out - ref_out).abs().max().item():.2e}'
        print(f'{label:<20} {grid[0]:>4}x{grid[1]:<4} {head.in_channels:>5} '
              f'{head.out_channels:>4} {out_size[0]:>4}x{out_size[1]:<4} '
              f'{fast_s * 1e3:>10.1f} {ref_ms:>10} {ratio:>7} {diff:>10}', flush=True)


if __name__ == '__main__':
    main()
