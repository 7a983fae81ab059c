"""Whole-model suite: the SAIR paper config in float32 / bfloat16, folded SIR or explicit field.

The model is the SAIR paper config (``configs/sair/sair_celebahq.py``, MaskCLIP ViT-B/16 + LIIF
SIR + Tab. 3 CNN + LIIF AIR, random weights) at S x S, batch 1. Cases: inference S -> S
(``SAIR.inpaint``), inference S -> 4S (the continuous representation rendered at 4x), and one
training step (forward, backward, Adam update; every pixel a query, as the paper config trains).
Each in four variants, float32 / bfloat16 autocast, with the SIR's last layer folded into AIR
(``fold_sir``) or the explicit field ``S`` (the plain reference).

Timing: one model, the four variants interleaved round by round (so that load from other
processes hits them alike), median of ``repeat`` rounds after a warm-up round; every training
step starts from the same weights and a fresh Adam. ``peak MiB``: one more run of each, the rise
of the resident set during the run after free heap pages went back to the OS (see
:func:`~sair_toolbox.experiments.benchmarks.common.peak_memory_mib`): the memory the run needs on
top of the model and inputs. The memory sweep adds the peak of bfloat16 folded inference at 2x,
4x and 6x output, beside the size of the output image itself, to show that the working memory
stays flat beyond one chunk.
"""
import os.path as osp
import statistics
import time
from typing import Callable, Optional, Sequence, Tuple

import torch

from sair_toolbox.experiments.benchmarks.common import (REPO_ROOT, build_random_model,
                                                        peak_memory_mib)
from sair_toolbox.utils.errors import ConfigError

MODEL_CONFIG = osp.join(REPO_ROOT, 'configs', 'sair', 'sair_celebahq.py')
#: (key, label, output scale or None for the training step)
MODEL_CASES = [('infer', 'inference S -> S', 1), ('infer_x4', 'inference S -> 4S', 4),
               ('train', 'training step S', None)]
#: (precision, fold_sir); the first is the plain reference of every ratio.
VARIANTS = [('fp32', False), ('fp32', True), ('bf16', False), ('bf16', True)]
SWEEP_SCALES = (2, 4, 6)
#: quick: the paper config's composition with tiny widths (a smoke run of the same code).
QUICK_MODEL = {
    'sir.encoder.model_cfg': dict(
        embed_dim=32, vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8,
                                      head_width=16),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1)),
    'appearance_encoder.base_channels': 8, 'appearance_encoder.num_res_blocks': 1,
    # SIR narrower than its 32-channel field, as in the paper config (256 < 512): 'auto' folds.
    'sir.head.hidden_channels': (16, 16), 'air_head.hidden_channels': (32, 32),
}


def build_paper_model(quick: bool) -> torch.nn.Module:
    """The SAIR paper config's model with random weights (``pretrained=None``).

    Args:
        quick: Use the tiny widths of :data:`QUICK_MODEL` (same composition).

    Returns:
        The built :class:`~sair_toolbox.models.sair.SAIR`, weights initialised from seed 0.

    Raises:
        ConfigError: The config's model cannot fold its SIR (the fold variants would be void).
    """
    options = {'model.sir.encoder.pretrained': None}
    if quick:
        options.update({f'model.{k}': v for k, v in QUICK_MODEL.items()})
    model, _ = build_random_model(MODEL_CONFIG, options)
    if not model.fold_sir:
        raise ConfigError(f'{MODEL_CONFIG}: the fold does not apply to this model')
    return model


def model_case(model, scale: Optional[int], precision: str, fold: bool, size: int,
               seed: int) -> Tuple[Callable[[], None], Callable[[], torch.Tensor]]:
    """``(setup, run)`` of one whole-model case and variant.

    Args:
        model: The model of :func:`build_paper_model`.
        scale: Output scale of an inference case, or None for the training step.
        precision: ``'fp32'`` or ``'bf16'`` (autocast).
        fold: Fold the SIR's last layer into AIR (``model.fold_sir``).
        size: Input side S.
        seed: Seed of the random image.

    Returns:
        ``setup`` (untimed; restores the weights so that every variant's training step starts
        from the same state) and ``run``, which returns the output: the inpainted image
        ``(1, 3, scale*S, scale*S)``, or the stacked losses of the training step.
    """
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
                      AutocastOptimWrapper(dtype='bfloat16', optimizer=optimizer)]

    def run():
        losses = model.train_step(data, wrapper[0])
        return torch.stack([v.detach() for v in losses.values()])

    return setup, run


def model_benchmark(size: int, repeat: int, *, quick: bool = False,
                    cases: Optional[Sequence[str]] = None, memory: bool = True,
                    memory_sweep: bool = False, seed: int = 0) -> None:
    """Print the whole-model table, and the goals' ratios when both ``infer`` and ``train`` ran.

    Args:
        size: Input side S.
        repeat: Timed rounds (median), >= 1.
        quick: Tiny widths (:data:`QUICK_MODEL`).
        cases: Keys of :data:`MODEL_CASES` to run; None runs all.
        memory: Measure each variant's peak memory (one extra run each).
        memory_sweep: Also the peak memory of bf16 folded inference at :data:`SWEEP_SCALES`.
        seed: Seed of the random inputs.
    """
    print(f'\nwhole-model benchmark: SAIR paper config ({osp.relpath(MODEL_CONFIG, REPO_ROOT)}'
          f'{", tiny widths (--quick)" if quick else ""}), random weights, batch 1, S = {size}, '
          f'torch {torch.__version__}, {torch.get_num_threads()} threads; median of '
          f'{repeat} rounds, the four variants interleaved in each round')
    header = (f'{"case":<20} {"precision":>9} {"S":>5} {"ms":>10} {"peak MiB":>9} '
              f'{"vs fp32":>8} {"fold/S":>7} {"max|diff| vs fp32 S":>20}')
    print(header)
    print('-' * len(header))
    model = build_paper_model(quick)
    medians = {}
    for key, label, scale in MODEL_CASES:
        if cases and key not in cases:
            continue
        runs = {v: model_case(model, scale, *v, size, seed) for v in VARIANTS}
        # One untimed warm-up round (kernel selection, allocator), except for the 4x case, whose
        # single runs take long and whose kernels the first rounds of the others have chosen.
        warmup = 0 if scale == 4 and ('infer', 'fp32', False) in medians else 1
        times, outs = {v: [] for v in VARIANTS}, {}
        for r in range(warmup + repeat):
            for v in VARIANTS:
                setup, run = runs[v]
                setup()
                start = time.perf_counter()
                outs[v] = run()
                if r >= warmup:
                    times[v].append(time.perf_counter() - start)
        for v in VARIANTS:
            medians[(key, ) + v] = statistics.median(times[v])
        for precision, fold in VARIANTS:
            setup, run = runs[precision, fold]
            setup()
            peak = peak_memory_mib(run) if memory else None
            peak = '-' if peak is None else f'{peak:.1f}'
            t = medians[key, precision, fold]
            vs32 = ('-' if precision == 'fp32' else
                    f'{t / medians[key, "fp32", fold]:.2f}x')
            vsfold = '-' if not fold else f'{t / medians[key, precision, False]:.2f}x'
            diff = ('-' if (precision, fold) == VARIANTS[0] else
                    f'{(outs[precision, fold].float() - outs[VARIANTS[0]]).abs().max():.2e}')
            print(f'{label:<20} {precision:>9} {"fold" if fold else "S":>5} {t * 1e3:>10.1f} '
                  f'{peak:>9} {vs32:>8} {vsfold:>7} {diff:>20}', flush=True)
        del runs, outs
    if memory_sweep:
        print(f'\npeak memory at larger outputs (bf16, fold, S = {size}; "image" is the float32 '
              'result itself, the rest is the working memory):')
        for scale in SWEEP_SCALES:
            setup, run = model_case(model, scale, 'bf16', True, size, seed)
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
