"""Demo training-step suite: the appearance encoder in NCHW (the plain layout) vs NHWC.

The model is ``configs/sair/sair_demo.py``'s (random weights, the demo CLIP's architecture with
``pretrained=None``, so nothing is pretrained or read from disk), trained as the demo trains:
batch 8 at 64 x 64, 2048 queries per image, the config's ``AutocastOptimWrapper`` (``dtype='auto'``:
bfloat16 autocast where the CPU's oneDNN has native bfloat16 kernels, else float32; the header
says which), Adam.
The two variants differ only in ``appearance_encoder.channels_last``; the implicit heads'
projection runs NHWC in both (:func:`~sair_toolbox.models.implicit_heads.base.project_nhwc`).

Timing: two models built from the same seed, the variants interleaved round by round (so that
load from other processes hits them alike), each round a fixed set of random batches, median
over the timed steps after a warm-up round. Both models take the same steps from the same
weights with the same query draws, so their losses are compared step by step (``max|diff|``:
float rounding only).
"""
import os.path as osp
import statistics
import time
from typing import Dict, List

import torch

from sair_toolbox.experiments.benchmarks.common import REPO_ROOT, build_random_model

DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'sair', 'sair_demo.py')
#: (label, appearance_encoder.channels_last); the first is the plain reference of the ratio.
VARIANTS = [('NCHW', False), ('NHWC', True)]


def _build(channels_last: bool, quick: bool):
    """The demo model with random weights (seed 0) and its optimizer wrapper (the config's)."""
    from mmengine.optim import build_optim_wrapper

    options = {'model.sir.encoder.pretrained': None,
               'model.appearance_encoder.channels_last': channels_last}
    if quick:
        options.update({'model.appearance_encoder.base_channels': 8,
                        'model.sir.head.hidden_channels': (16, ),
                        'model.air_head.hidden_channels': (16, ), 'model.num_queries': 64})
    model, cfg = build_random_model(DEMO_CONFIG, options)
    model.train()
    return model, build_optim_wrapper(model, cfg.optim_wrapper)


def _batches(num: int, batch: int, size: int, seed: int) -> List[Dict]:
    """``num`` random uint8 batches (the data preprocessor's input format) with rectangular
    holes of 30-70 % of each side (9-49 % of the image)."""
    from sair_toolbox.structures import InpaintDataSample

    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(num):
        inputs, samples = [], []
        for _ in range(batch):
            inputs.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8,
                                        generator=gen))
            h, w = (int(size * float(f)) for f in 0.3 + 0.4 * torch.rand(2, generator=gen))
            y, x = (int(v) for v in torch.randint(0, size - max(h, w) + 1, (2, ), generator=gen))
            mask = torch.zeros(1, size, size)
            mask[:, y:y + h, x:x + w] = 1
            sample = InpaintDataSample()
            sample.mask = mask
            samples.append(sample)
        out.append(dict(inputs=inputs, data_samples=samples))
    return out


def demo_step_benchmark(repeat: int, *, quick: bool = False, seed: int = 0,
                        steps_per_round: int = 4) -> Dict[str, float]:
    """Print the demo training step's median time per layout, the ratio and the loss difference.

    Args:
        repeat: Timed rounds, >= 1 (each ``steps_per_round`` steps per variant).
        quick: Tiny widths and 32 x 32 images (a smoke run of the same code).
        seed: Seed of the random batches and query draws.
        steps_per_round: Batches per round.

    Returns:
        ``{label: median seconds per step}`` and ``'max_loss_diff'``.
    """
    from sair_toolbox.utils.precision import resolve_precision

    size, batch = (32, 2) if quick else (64, 8)
    auto = f'auto -> {resolve_precision("auto", "cpu")[0]}'
    print(f'\ndemo training-step benchmark: {osp.relpath(DEMO_CONFIG, REPO_ROOT)} '
          f'{"(tiny widths, --quick) " if quick else ""}random weights, batch {batch}, '
          f'{size} x {size}, precision {auto}, torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads; median of {repeat} x {steps_per_round} steps, '
          'the variants interleaved in each round')
    runs = {label: _build(layout, quick) for label, layout in VARIANTS}
    batches = _batches(steps_per_round, batch, size, seed)
    times = {label: [] for label, _ in VARIANTS}
    losses = {label: [] for label, _ in VARIANTS}
    for r in range(1 + repeat):  # round 0 warms up (kernel selection, allocator)
        for label, _ in VARIANTS:
            model, wrapper = runs[label]
            for i, data in enumerate(batches):
                torch.manual_seed(seed + 1000 * r + i)  # the same query draws in both variants
                start = time.perf_counter()
                out = model.train_step(data, wrapper)
                elapsed = time.perf_counter() - start
                losses[label].append(torch.stack([v.detach().float() for v in out.values()]))
                if r:
                    times[label].append(elapsed)
    result: Dict[str, float] = {label: statistics.median(t) for label, t in times.items()}
    ref = VARIANTS[0][0]
    diff = max(float((a - b).abs().max()) for label, _ in VARIANTS[1:]
               for a, b in zip(losses[label], losses[ref]))
    result['max_loss_diff'] = diff
    header = f'{"layout":<8} {"ms / step":>10} {"vs " + ref:>8} {"max|loss diff|":>15}'
    print(header)
    print('-' * len(header))
    for label, _ in VARIANTS:
        vs = '-' if label == ref else f'{result[label] / result[ref]:.2f}x'
        shown = '-' if label == ref else f'{diff:.2e}'
        print(f'{label:<8} {result[label] * 1e3:>10.1f} {vs:>8} {shown:>15}', flush=True)
    return result
