"""Precision suite: float32 against bfloat16 autocast on this machine, and what ``auto`` picks.

``precision='auto'`` (the default of the optim wrapper, ``tools/test.py``, the inferencer) picks
bf16 on a CPU only where oneDNN has native bfloat16 kernels: without them (AVX2-only CPUs) bf16
autocast is emulated and 10-13x slower than float32. This suite shows the CPU kind (model name,
the ``avx512_bf16`` / AMX flags, the oneDNN probe that ``auto`` reads), the choice and its reason,
and times both precisions for the two costs users see:

- the demo training step (``configs/sair/sair_demo.py``, random weights, batch 8 at 64 x 64,
  Adam): ``OptimWrapper`` (what ``auto`` resolving to fp32 runs) against
  ``AutocastOptimWrapper(dtype='bfloat16')``, two models from the same seed taking the same
  steps with the same query draws (``max|diff|``: of the losses, bf16 rounding);
- the paper-config inference (``configs/sair/sair_celebahq.py``, random weights, S x S -> S x S,
  batch 1, the folded SIR as it runs by default) under no autocast against bf16 autocast
  (``max|diff|``: of the output images in [0, 1]).

Timing: in one process at torch's thread count, the two precisions interleaved round by round
(so that load from other processes hits them alike), median over the timed rounds after a
warm-up round.
"""
import os.path as osp
import statistics
import time
from typing import Callable, Dict, List, Tuple

import torch

from sair_toolbox.experiments.benchmarks.common import REPO_ROOT, build_random_model
from sair_toolbox.experiments.benchmarks.demo_step import DEMO_CONFIG, _batches
from sair_toolbox.experiments.benchmarks.model import build_paper_model, model_case
from sair_toolbox.utils import precision as precision_mod

PRECISIONS = ('fp32', 'bf16')
#: CPU flags shown (``/proc/cpuinfo``): the native bfloat16 instructions and AMX's.
CPU_FLAGS = ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16', 'amx_tile')


def cpu_kind() -> Dict[str, object]:
    """The CPU's model name, the :data:`CPU_FLAGS` it has, the oneDNN probe and ``auto``'s pick.

    Returns:
        ``{'model': str, 'flags': {flag: bool}, 'onednn_bf16': bool, 'auto': (name, reason)}``
        (``model`` is ``'unknown'`` where ``/proc/cpuinfo`` cannot be read).
    """
    model, flags = 'unknown', set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                key = key.strip()
                if key == 'model name' and model == 'unknown':
                    model = value.strip()
                elif key == 'flags' and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return dict(model=model, flags={f: f in flags for f in CPU_FLAGS},
                onednn_bf16=precision_mod.cpu_bf16_supported(),
                auto=precision_mod.resolve_precision('auto', 'cpu'))


def _demo_step_runs(quick: bool, seed: int) -> Tuple[Dict[str, Callable], int, int]:
    """One ``run(r)`` per precision (a round of demo training steps), the batch and the size."""
    from mmengine.optim import OptimWrapper

    from sair_toolbox.engine import AutocastOptimWrapper

    size, batch = (32, 2) if quick else (64, 8)
    options = {'model.sir.encoder.pretrained': None}
    if quick:
        options.update({'model.appearance_encoder.base_channels': 8,
                        'model.sir.head.hidden_channels': (16, ),
                        'model.air_head.hidden_channels': (16, ), 'model.num_queries': 64})
    batches = _batches(2, batch, size, seed)
    runs = {}
    for name in PRECISIONS:
        model, cfg = build_random_model(DEMO_CONFIG, options)
        model.train()
        optimizer = torch.optim.Adam(model.parameters(),
                                     **{k: v for k, v in cfg.optim_wrapper.optimizer.items()
                                        if k != 'type'})
        wrapper = (OptimWrapper(optimizer=optimizer) if name == 'fp32' else
                   AutocastOptimWrapper(dtype='bfloat16', optimizer=optimizer))

        def run(r, model=model, wrapper=wrapper):
            losses = []
            for i, data in enumerate(batches):
                torch.manual_seed(seed + 1000 * r + i)  # the same query draws in both
                out = model.train_step(data, wrapper)
                losses.append(torch.stack([v.detach().float() for v in out.values()]))
            return torch.stack(losses)

        runs[name] = run
    return runs, batch, size


def _paper_runs(size: int, quick: bool, seed: int) -> Dict[str, Callable]:
    model = build_paper_model(quick)
    runs = {}
    for name in PRECISIONS:
        setup, infer = model_case(model, 1, name, True, size, seed)

        def run(r, setup=setup, infer=infer):
            setup()
            return infer()

        runs[name] = run
    return runs


def _interleaved(runs: Dict[str, Callable], repeat: int) -> Tuple[Dict[str, float], float]:
    """Median seconds per precision over ``repeat`` rounds after a warm-up round, and the
    largest difference of the bf16 outputs from the fp32 ones."""
    times: Dict[str, List[float]] = {name: [] for name in runs}
    diff = 0.0
    for r in range(1 + repeat):
        outs = {}
        for name, run in runs.items():
            start = time.perf_counter()
            outs[name] = run(r)
            if r:
                times[name].append(time.perf_counter() - start)
        diff = max(diff, float((outs['bf16'].float() - outs['fp32'].float()).abs().max()))
    return {name: statistics.median(t) for name, t in times.items()}, diff


def precision_benchmark(repeat: int, *, size: int = 256, quick: bool = False,
                        seed: int = 0) -> Dict[str, object]:
    """Print the CPU kind, ``auto``'s choice, and fp32 vs bf16 times of both cases with ratios.

    Args:
        repeat: Timed rounds, >= 1 (a demo round is 2 training steps; a paper round one
            inference).
        size: Side S of the paper-config inference.
        quick: Tiny widths (both models) and a 32 x 32 demo batch of 2: a smoke run of the code.
        seed: Seed of the random inputs and query draws.

    Returns:
        ``{'cpu': cpu_kind(), 'demo_step': {...}, 'paper_infer': {...}}``, each case
        ``{'fp32': s, 'bf16': s, 'ratio': bf16 / fp32, 'max_diff': float}`` (seconds per step /
        per inference).
    """
    cpu = cpu_kind()
    flags = ', '.join(f'{f} {"yes" if v else "no"}' for f, v in cpu['flags'].items())
    name, reason = cpu['auto']
    print(f'\nprecision benchmark: torch {torch.__version__}, {torch.get_num_threads()} threads'
          f'{", tiny widths (--quick)" if quick else ""}; median of {repeat} rounds after a '
          'warm-up, fp32 and bf16 interleaved in each round')
    print(f'CPU: {cpu["model"]}')
    print(f'CPU flags: {flags}')
    print(f'oneDNN native bf16 (torch.ops.mkldnn._is_mkldnn_bf16_supported): '
          f'{"yes" if cpu["onednn_bf16"] else "no"}')
    print(f'auto picks: {precision_mod.precision_message("auto", name, reason)}')

    demo_runs, batch, demo_size = _demo_step_runs(quick, seed)
    header = (f'{"case":<38} {"fp32 ms":>10} {"bf16 ms":>10} {"bf16/fp32":>10} '
              f'{"max|diff|":>10}')
    print(header)
    print('-' * len(header))
    result: Dict[str, object] = dict(cpu=cpu)

    def report(label, key, runs, per_round):
        medians, diff = _interleaved(runs, repeat)
        per = {k: v / per_round for k, v in medians.items()}
        ratio = per['bf16'] / per['fp32']
        result[key] = dict(per, ratio=ratio, max_diff=diff)
        print(f'{label:<38} {per["fp32"] * 1e3:>10.1f} {per["bf16"] * 1e3:>10.1f} '
              f'{ratio:>9.2f}x {diff:>10.2e}', flush=True)

    report(f'demo training step (batch {batch}, {demo_size} x {demo_size})', 'demo_step',
           demo_runs, 2)
    del demo_runs
    report(f'paper inference S -> S (S = {size})', 'paper_infer', _paper_runs(size, quick, seed),
           1)
    faster = {k: 'bf16' if result[k]['ratio'] < 1 else 'fp32' for k in ('demo_step',
                                                                          'paper_infer')}
    agrees = all(v == name for v in faster.values())
    print(f'faster here: demo step {faster["demo_step"]}, paper inference '
          f'{faster["paper_infer"]}; auto picks {name}'
          f'{" (the faster in both)" if agrees else " (not the faster in every case)"}')
    print(f'configs: {osp.relpath(DEMO_CONFIG, REPO_ROOT)}, configs/sair/sair_celebahq.py '
          '(random weights)')
    return result
