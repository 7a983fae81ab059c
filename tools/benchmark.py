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

Whole-model cases (``--suite model``; ``all`` runs both tables): the SAIR paper config
(``configs/sair/sair_celebahq.py``, MaskCLIP ViT-B/16 + LIIF SIR + Tab. 3 CNN + LIIF AIR, random
weights) at S x S, batch 1: inference S -> S (``SAIR.inpaint``), inference S -> 4S (the continuous
representation rendered at 4x), and one training step (forward, backward, Adam update; every pixel
a query, as the paper config trains). Each in four variants, float32 / bfloat16 autocast, with the
SIR's last layer folded into AIR (``fold_sir``) or the explicit field ``S`` (the plain reference).
Timing: one model, the four variants interleaved round by round (so that load from other
processes hits them alike), median of ``--repeat`` rounds after a warm-up round; every training
step starts from the same weights and a fresh Adam. ``peak MiB``: one more run of each, the rise
of the resident set during the run after free heap pages went back to the OS (see
:func:`peak_memory_mib`): the memory the run needs on top of the model and inputs.
``--memory-sweep`` adds the peak of bfloat16 folded inference at 2x, 4x and 6x output, beside the
size of the output image itself, to show that the working memory stays flat beyond one chunk.

Examples::

    python tools/benchmark.py                  # both tables, S = 256, 3 repeats
    python tools/benchmark.py --suite model --memory-sweep
    python tools/benchmark.py --suite linear   # MLP-layer kernels per dtype (what linear() uses)
    python tools/benchmark.py --quick          # smoke run (tiny widths, S = 32)
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
from typing import Optional

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


MODEL_CONFIG = osp.join(ROOT, 'configs', 'sair', 'sair_celebahq.py')
#: (key, label, output scale or None for the training step)
MODEL_CASES = [('infer', 'inference S -> S', 1), ('infer_x4', 'inference S -> 4S', 4),
               ('train', 'training step S', None)]
#: (precision, fold_sir); the first is the plain reference of every ratio.
VARIANTS = [('fp32', False), ('fp32', True), ('bf16', False), ('bf16', True)]
SWEEP_SCALES = (2, 4, 6)
#: --quick: the paper config's composition with tiny widths (a smoke run of the same code).
QUICK_MODEL = {
    'sir.encoder.model_cfg': dict(
        embed_dim=32, vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8,
                                      head_width=16),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1)),
    'appearance_encoder.base_channels': 8, 'appearance_encoder.num_res_blocks': 1,
    # SIR narrower than its 32-channel field, as in the paper config (256 < 512): 'auto' folds.
    'sir.head.hidden_channels': (16, 16), 'air_head.hidden_channels': (32, 32),
}


def _proc_status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise OSError(f'{field} not in /proc/self/status')


def peak_memory_mib(fn) -> Optional[float]:
    """Rise of the resident set during ``fn()`` (MiB), or None where Linux's counters are absent.

    Free heap pages are first returned to the OS (``malloc_trim``; the tools' allocator tuning
    otherwise keeps them, and the run would reuse them unseen), then the peak-RSS counter is reset
    to the current RSS (``/proc/self/clear_refs``) and read after the run: the memory the run
    needs on top of what is live (model, inputs). torch's CPU allocator has no peak counter.
    """
    import ctypes
    import gc
    try:
        gc.collect()
        ctypes.CDLL('libc.so.6').malloc_trim(0)
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        before = _proc_status_kib('VmRSS')
    except OSError:
        return None
    fn()
    return (_proc_status_kib('VmHWM') - before) / 1024


def build_paper_model(quick: bool):
    """The SAIR paper config's model with random weights (``pretrained=None``)."""
    import logging
    import warnings

    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from sair_toolbox.registry import MODELS
    from sair_toolbox.utils.setup_env import register_all_modules
    register_all_modules()
    MMLogger.get_current_instance().setLevel(logging.ERROR)  # the random-weights warning
    cfg = Config.fromfile(MODEL_CONFIG)
    options = {'model.sir.encoder.pretrained': None}
    if quick:
        options.update({f'model.{k}': v for k, v in QUICK_MODEL.items()})
    cfg.merge_from_dict(options)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(cfg.model)
    model.init_weights()
    if not model.fold_sir:
        raise ConfigError(f'{MODEL_CONFIG}: the fold does not apply to this model')
    return model


def model_case(model, scale: Optional[int], precision: str, fold: bool, size: int, seed: int):
    """``(setup, run)`` of one whole-model case and variant; ``run()`` returns the output (the
    inpainted image, or the losses of the training step). ``setup`` (untimed) restores the
    weights so that every variant's training step starts from the same state."""
    from mmengine.optim import OptimWrapper

    from sair_toolbox.engine import AutocastOptimWrapper
    from sair_toolbox.structures import InpaintDataSample
    from sair_toolbox.utils.precision import autocast

    gen = torch.Generator().manual_seed(seed)
    img = torch.rand(1, 3, size, size, generator=gen)
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4:3 * size // 4, size // 4:5 * size // 8] = 1  # a 28 % hole
    if scale is not None:
        out = (size * scale, size * scale)

        def setup():
            model.eval()
            model.fold_sir = fold

        def run():
            with torch.no_grad(), autocast(precision, 'cpu'):
                return model.inpaint(img, mask, out)

        return setup, run

    sample = InpaintDataSample()
    sample.mask = mask[0]
    data = dict(inputs=[(img[0] * 255).round().to(torch.uint8)], data_samples=[sample])
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    wrapper = []

    def setup():
        model.load_state_dict(initial)
        model.train()
        model.fold_sir = fold
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        wrapper[:] = [OptimWrapper(optimizer) if precision == 'fp32' else
                      AutocastOptimWrapper(optimizer=optimizer)]

    def run():
        losses = model.train_step(data, wrapper[0])
        return torch.stack([v.detach() for v in losses.values()])

    return setup, run


def model_benchmark(args) -> None:
    """The whole-model table (see the module docstring)."""
    size, quick = args.size, args.quick
    print(f'\nwhole-model benchmark: SAIR paper config ({osp.relpath(MODEL_CONFIG, ROOT)}'
          f'{", tiny widths (--quick)" if quick else ""}), random weights, batch 1, S = {size}, '
          f'torch {torch.__version__}, {torch.get_num_threads()} threads; median of '
          f'{args.repeat} rounds, the four variants interleaved in each round')
    header = (f'{"case":<20} {"precision":>9} {"S":>5} {"ms":>10} {"peak MiB":>9} '
              f'{"vs fp32":>8} {"fold/S":>7} {"max|diff| vs fp32 S":>20}')
    print(header)
    print('-' * len(header))
    model = build_paper_model(quick)
    medians = {}
    for key, label, scale in MODEL_CASES:
        if args.model_case and key not in args.model_case:
            continue
        cases = {v: model_case(model, scale, *v, size, args.seed) for v in VARIANTS}
        # One untimed warm-up round (kernel selection, allocator), except for the 4x case, whose
        # single runs take long and whose kernels the first rounds of the others have chosen.
        warmup = 0 if scale == 4 and ('infer', 'fp32', False) in medians else 1
        times, outs = {v: [] for v in VARIANTS}, {}
        for r in range(warmup + args.repeat):
            for v in VARIANTS:
                setup, run = cases[v]
                setup()
                start = time.perf_counter()
                outs[v] = run()
                if r >= warmup:
                    times[v].append(time.perf_counter() - start)
        for v in VARIANTS:
            medians[(key, ) + v] = statistics.median(times[v])
        for precision, fold in VARIANTS:
            setup, run = cases[precision, fold]
            setup()
            peak = None if args.no_memory else peak_memory_mib(run)
            peak = '-' if peak is None else f'{peak:.1f}'
            t = medians[key, precision, fold]
            vs32 = ('-' if precision == 'fp32' else
                    f'{t / medians[key, "fp32", fold]:.2f}x')
            vsfold = '-' if not fold else f'{t / medians[key, precision, False]:.2f}x'
            diff = ('-' if (precision, fold) == VARIANTS[0] else
                    f'{(outs[precision, fold].float() - outs[VARIANTS[0]]).abs().max():.2e}')
            print(f'{label:<20} {precision:>9} {"fold" if fold else "S":>5} {t * 1e3:>10.1f} '
                  f'{peak:>9} {vs32:>8} {vsfold:>7} {diff:>20}', flush=True)
        del cases, outs
    if args.memory_sweep:
        print(f'\npeak memory at larger outputs (bf16, fold, S = {size}; "image" is the float32 '
              'result itself, the rest is the working memory):')
        for scale in SWEEP_SCALES:
            setup, run = model_case(model, scale, 'bf16', True, size, args.seed)
            setup()
            start = time.perf_counter()
            peak = peak_memory_mib(run)
            seconds = time.perf_counter() - start
            side = size * scale
            image = 3 * side * side * 4 / 2**20
            if peak is None:
                print('  (no /proc/self counters on this system)')
                break
            print(f'  {side:>5} x {side:<5} peak {peak:>8.1f} MiB   image {image:>7.1f} MiB   '
                  f'peak - image {peak - image:>8.1f} MiB   ({seconds:.1f} s)', flush=True)

    def ratio(key, precision, fold, ref_precision, ref_fold):
        return medians[key, precision, fold] / medians[key, ref_precision, ref_fold]

    if {'infer', 'train'} - {k[0] for k in medians}:
        return
    print('\ngoals (ratios of median times in this run):')
    print(f'  bf16 / fp32 inference S -> S, fold: {ratio("infer", "bf16", True, "fp32", True):.2f}'
          f'x (goal <= 0.5x); explicit S: {ratio("infer", "bf16", False, "fp32", False):.2f}x')
    print(f'  bf16 / fp32 training step, fold:    {ratio("train", "bf16", True, "fp32", True):.2f}'
          f'x (goal <= 0.6x); explicit S: {ratio("train", "bf16", False, "fp32", False):.2f}x')
    saved = 1 - ratio('infer', 'fp32', True, 'fp32', False)
    print(f'  fold, fp32 inference S -> S: {100 * saved:.0f} % of the time saved (goal >= 15 %); '
          f'bf16: {100 * (1 - ratio("infer", "bf16", True, "bf16", False)):.0f} %; '
          f'fp32 training step: {100 * (1 - ratio("train", "fp32", True, "fp32", False)):.0f} %')


def linear_benchmark(args) -> None:
    """Kernels for the heads' MLP layers (``M x 256 -> 256`` + ReLU): which is fastest per dtype
    (what ``local_ensemble.linear`` picks)."""
    import torch.nn.functional as F
    rows = 4096 if args.quick else 16384
    print(f'\nlinear kernels ({rows} x 256 @ 256 x 256 + ReLU, median of {max(args.repeat, 5)}; '
          'GFLOP/s):')
    gen = torch.Generator().manual_seed(args.seed)
    x, w, b = (torch.randn(rows, 256, generator=gen), torch.randn(256, 256, generator=gen),
               torch.randn(256, generator=gen))
    xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
    mkldnn = torch.ops.mkldnn._linear_pointwise

    def autocast_linear():
        with torch.autocast('cpu', dtype=torch.bfloat16):
            return torch.relu_(F.linear(x, w, b))

    kernels = [
        ('float32 F.linear (MKL)', lambda: torch.relu_(F.linear(x, w, b))),
        ('float32 oneDNN linear+relu', lambda: mkldnn(x, w, b, 'relu', [], '')),
        ('bfloat16 F.linear', lambda: torch.relu_(F.linear(xb, wb, bb))),
        ('bfloat16 addmm', lambda: torch.relu_(torch.addmm(bb, xb, wb.t()))),
        ('bfloat16 oneDNN linear+relu', lambda: mkldnn(xb, wb, bb, 'relu', [], '')),
        ('autocast F.linear (fp32 in)', autocast_linear),
    ]
    flops = 2 * rows * 256 * 256
    with torch.no_grad():
        for label, fn in kernels:
            try:
                fn()
                seconds, _ = median_time(fn, max(args.repeat, 5))
                print(f'  {label:<30} {seconds * 1e3:>8.2f} ms {flops / seconds / 1e9:>7.0f}')
            except RuntimeError as exc:  # e.g. no oneDNN bfloat16 kernel on this CPU
                print(f'  {label:<30} unavailable ({" ".join(str(exc).split())[:60]})')


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
    parser.add_argument('--suite', choices=('all', 'heads', 'model', 'linear'), default='all',
                        help='implicit-head table, whole-model table, both (default), or the '
                        'linear-kernel comparison')
    parser.add_argument('--model-case', action='append', default=None,
                        choices=[c[0] for c in MODEL_CASES],
                        help='whole-model: run only this case (repeatable); default all')
    parser.add_argument('--memory-sweep', action='store_true',
                        help='whole-model: also peak memory of bf16 inference at 2x, 4x, 6x')
    parser.add_argument('--no-memory', action='store_true',
                        help='whole-model: skip the peak-memory runs')
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
    if args.suite == 'linear':
        linear_benchmark(args)
        return
    if args.suite != 'model':
        heads_benchmark(args, tuned)
    if args.suite != 'heads':
        model_benchmark(args)


def heads_benchmark(args, tuned: bool) -> None:
    """The implicit-head table (fast path against the plain reference)."""
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
