"""Demo training side by side: one run on all cores against one single-thread run per core.

What ``tools/demo_tables.py --jobs`` trades. Both variants train the demo SAIR model as the
demo-step suite does (:mod:`.demo_step`: ``configs/sair/sair_demo.py`` with random weights,
batch 8 at 64 x 64, bfloat16 autocast, NHWC):

* ``1 run x N threads``: one run in this process on the ``N`` usable CPUs;
* ``N runs x 1 thread``: ``N`` runs at once, each in its own spawned process with one thread
  (:func:`~sair_toolbox.experiments.parallel.run_tasks`, as ``--jobs N``).

Each run takes ``warmup`` untimed and ``steps`` timed steps over the same batches; the table
gives each run's median step time and the steps per second of all runs together (``N`` /
median for the side-by-side runs, whose timed steps overlap), and the throughput ratio. The
numbers of a side-by-side run equal those of a one-thread run in a single process; the tests
check that (``tests/test_experiments/test_demo_tables.py``), so only the speed is measured here.
"""
import statistics
from typing import Dict, List

import torch


def train_steps(steps: int, warmup: int, quick: bool, seed: int) -> List[float]:
    """Seconds of each of ``steps`` demo training steps after ``warmup`` untimed ones (module
    level: a worker process runs it)."""
    import time

    from .demo_step import _batches, _build
    model, wrapper = _build(True, quick)
    size, batch = (32, 2) if quick else (64, 8)
    batches = _batches(4, batch, size, seed)
    times = []
    for i in range(warmup + steps):
        torch.manual_seed(seed + i)
        start = time.perf_counter()
        model.train_step(batches[i % len(batches)], wrapper)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def demo_jobs_benchmark(steps: int = 20, *, warmup: int = 4, quick: bool = False,
                        seed: int = 0, cpus: int = 0) -> Dict[str, float]:
    """Print the step time and total throughput of one run on all cores and of one run per core.

    Args:
        steps: timed steps per run (>= 1).
        warmup: untimed steps first.
        quick: tiny widths and 32 x 32 images (a smoke run of the same code).
        seed: seed of the batches and query draws.
        cpus: cores to use (0: the usable CPUs, :func:`~sair_toolbox.experiments.parallel.
            usable_cpus`).

    Returns:
        ``{'one_run': steps/s, 'per_core': steps/s, 'ratio': per_core / one_run, 'cpus': N}``.
    """
    from sair_toolbox.experiments.parallel import Task, run_tasks, usable_cpus
    n = cpus or usable_cpus()
    print(f'\ndemo training side by side: configs/sair/sair_demo.py '
          f'{"(tiny widths, --quick) " if quick else ""}random weights, bf16 autocast, '
          f'torch {torch.__version__}; {n} CPUs; median of {steps} steps per run after '
          f'{warmup} warm-up steps', flush=True)
    kwargs = dict(steps=steps, warmup=warmup, quick=quick, seed=seed)
    one = run_tasks([Task('one', train_steps, kwargs)], jobs=1, threads=n)['one']
    each = run_tasks([Task(i, train_steps, kwargs) for i in range(n)], jobs=n, threads=1)
    one_step = statistics.median(one)
    per_run = [statistics.median(t) for t in each.values()]
    result = dict(one_run=1 / one_step, per_core=sum(1 / t for t in per_run), cpus=n)
    result['ratio'] = result['per_core'] / result['one_run']
    header = f'{"runs x threads":<16} {"ms / step (each run)":>21} {"steps / s (all)":>16} ' \
             f'{"vs 1 run":>9}'
    print(header)
    print('-' * len(header))
    print(f'{f"1 x {n}":<16} {one_step * 1e3:>21.1f} {result["one_run"]:>16.2f} {"-":>9}')
    shown = ' / '.join(f'{t * 1e3:.1f}' for t in per_run)
    print(f'{f"{n} x 1":<16} {shown:>21} {result["per_core"]:>16.2f} '
          f'{result["ratio"]:>8.2f}x', flush=True)
    return result
