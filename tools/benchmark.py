"""Time the implicit heads' fast path against the plain reference, in one run.

The suites live in :mod:`sair_toolbox.experiments.benchmarks` (their docstrings say what each
case measures); this script parses the flags and dispatches:

- ``heads``: the implicit heads' fast path against the plain reference
  (:mod:`sair_toolbox.models.implicit_heads.reference`): median wall times, speed-up ratio and
  largest absolute difference, for LIIF as SIR, LIIF / LTE as AIR at scale 1 and 1.5, and LIIF
  AIR without neighbour pruning.
- ``model``: the SAIR paper config (``configs/sair/sair_celebahq.py``, random weights) at
  S x S, batch 1: inference S -> S, S -> 4S and one training step, each in float32 / bfloat16,
  folded SIR or explicit field ``S``; peak memory per run. ``--memory-sweep`` adds the peak of
  bfloat16 folded inference at 2x, 4x and 6x output.
- ``all`` (default): ``heads`` then ``model``.
- ``linear``: the MLP-layer kernels per dtype (what the heads' ``linear`` uses).
- ``demo-step``: one demo training step (``configs/sair/sair_demo.py``, batch 8, its precision
  ``auto``) with the appearance encoder in NCHW against NHWC (``channels_last``), their ratio and
  loss difference.
- ``encoder``: the frozen MaskCLIP encoder's blocks (ViT-B/16 at S x S, ``--batch``, default 2
  here) as open_clip runs them against batch-first, float32 and bfloat16, ratio and difference.
- ``demo-jobs``: demo training as one run on all cores against one single-thread run per core
  side by side (what ``tools/demo_tables.py --jobs`` trades): step times, total steps per second
  and their ratio (``4 x --repeat`` timed steps per run).
- ``precision``: float32 against bfloat16 autocast on this machine -- the demo training step and
  the paper-config inference at S x S (random weights), interleaved, with the ratio -- beside the
  CPU kind (model name, avx512_bf16 / AMX flags, the oneDNN probe) and what ``precision='auto'``
  picks here (about a minute on 2 cores with native bfloat16).
- ``holes``: the paper config at S x S with 10 / 25 / 50 % holes, hole-only ``SAIR.inpaint``
  against the full render + composite, fp32 and ``auto``'s precision: times, ratio, bitwise.
- ``photos``: a 12 MP and a 1 MP photo through ``tools/inpaint.py`` (demo model, paper config
  with random weights: wall time, peak RSS, where the time goes), then SAIR's crop path beside
  LaMa's big-lama under IOPaint's Crop in one process (``--lama-repo``: a checkout of
  advimman/lama; without it the LaMa rows are skipped); ``--results DIR`` writes the tables.

Examples::

    python tools/benchmark.py                  # both tables, S = 256, 3 repeats
    python tools/benchmark.py --suite model --memory-sweep
    python tools/benchmark.py --suite linear   # MLP-layer kernels per dtype (what linear() uses)
    python tools/benchmark.py --suite demo-step --threads 2 --repeat 5
    python tools/benchmark.py --suite demo-jobs --repeat 10
    python tools/benchmark.py --suite encoder --batch 2
    python tools/benchmark.py --suite precision   # fp32 vs bf16 here, and what 'auto' picks
    python tools/benchmark.py --suite holes --repeat 3
    python tools/benchmark.py --suite photos --lama-repo /tmp/lama --results results/photos
    python tools/benchmark.py --quick          # smoke run (tiny widths, S = 32)
    python tools/benchmark.py --threads 2 --repeat 5 --case liif_air_x1
    python tools/benchmark.py --allocator compare --fast-only   # glibc default vs tuned

``--allocator tuned`` (default) applies ``sair_toolbox.utils.setup_env.tune_cpu_allocator`` as the
tools do; ``glibc`` leaves the allocator alone; ``compare`` runs the benchmark once with each, in
two child processes (the setting cannot be undone inside a process).
"""
import argparse
import os.path as osp
import sys

import torch

from sair_toolbox.experiments.benchmarks.allocators import compare_allocators
from sair_toolbox.experiments.benchmarks.demo_jobs import demo_jobs_benchmark
from sair_toolbox.experiments.benchmarks.demo_step import demo_step_benchmark
from sair_toolbox.experiments.benchmarks.encoder import encoder_benchmark
from sair_toolbox.experiments.benchmarks.heads import heads_benchmark
from sair_toolbox.experiments.benchmarks.holes import holes_benchmark
from sair_toolbox.experiments.benchmarks.linear import linear_benchmark
from sair_toolbox.experiments.benchmarks.model import MODEL_CASES, model_benchmark
from sair_toolbox.experiments.benchmarks.photos import photos_benchmark
from sair_toolbox.experiments.benchmarks.precision import precision_benchmark
from sair_toolbox.utils.errors import ConfigError, cli_main
from sair_toolbox.utils.setup_env import tune_cpu_allocator


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
    parser.add_argument('--suite', choices=('all', 'heads', 'model', 'linear', 'demo-step',
                                            'demo-jobs', 'encoder', 'precision', 'holes',
                                            'photos'),
                        default='all',
                        help='implicit-head table, whole-model table, both (default), the '
                        'linear-kernel comparison, the demo training step NCHW vs NHWC, '
                        'demo training as one run on all cores vs one run per core, or the '
                        "frozen MaskCLIP encoder's blocks open_clip vs batch-first, or fp32 vs "
                        "bf16 (demo step, paper inference) with the CPU kind and auto's choice, "
                        'hole-only rendering vs full (holes), photos through the CLI and beside '
                        'LaMa (photos)')
    parser.add_argument('--lama-repo', default=None,
                        help='photos: a local checkout of advimman/lama (LaMa rows; else skipped)')
    parser.add_argument('--results', default=None,
                        help='holes, photos: write <suite>.json and <suite>.md to this folder')
    parser.add_argument('--model-case', action='append', default=None,
                        choices=[c[0] for c in MODEL_CASES],
                        help='whole-model: run only this case (repeatable); default all')
    parser.add_argument('--memory-sweep', action='store_true',
                        help='whole-model: also peak memory of bf16 inference at 2x, 4x, 6x')
    parser.add_argument('--no-memory', action='store_true',
                        help='whole-model: skip the peak-memory runs')
    return parser.parse_args(argv)


@cli_main
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.allocator == 'compare':
        compare_allocators(osp.abspath(__file__), argv)
        return
    tuned = tune_cpu_allocator() if args.allocator == 'tuned' else False
    if args.quick:
        args.size, args.repeat = 32, 1
    if args.repeat < 1 or args.batch < 1 or args.ref_chunk < 1:
        raise ConfigError('--repeat, --batch and --ref-chunk must be >= 1')
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.suite == 'linear':
        linear_benchmark(args.repeat, quick=args.quick, seed=args.seed)
        return
    if args.suite == 'demo-step':
        demo_step_benchmark(args.repeat, quick=args.quick, seed=args.seed)
        return
    if args.suite == 'encoder':
        encoder_benchmark(args.size, args.repeat, batch=max(args.batch, 2), quick=args.quick,
                          seed=args.seed)
        return
    if args.suite == 'precision':
        precision_benchmark(args.repeat, size=args.size, quick=args.quick, seed=args.seed)
        return
    if args.suite == 'holes':
        holes_benchmark(args.repeat, size=args.size, quick=args.quick, seed=args.seed,
                        results=args.results)
        return
    if args.suite == 'photos':
        photos_benchmark(args.repeat, lama_repo=args.lama_repo, quick=args.quick,
                         seed=args.seed, results=args.results)
        return
    if args.suite == 'demo-jobs':  # --threads: the cores to share out
        demo_jobs_benchmark(4 * args.repeat, warmup=1 if args.quick else 4, quick=args.quick,
                            seed=args.seed, cpus=args.threads or 0)
        return
    if args.suite != 'model':
        heads_benchmark(args.size, args.repeat, batch=args.batch, chunk=args.chunk,
                        ref_chunk=args.ref_chunk, cases=args.case, fast_only=args.fast_only,
                        seed=args.seed, allocator_tuned=tuned)
    if args.suite != 'heads':
        model_benchmark(args.size, args.repeat, quick=args.quick, cases=args.model_case,
                        memory=not args.no_memory, memory_sweep=args.memory_sweep,
                        seed=args.seed)


if __name__ == '__main__':
    main()
