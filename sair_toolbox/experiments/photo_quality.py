"""Photos above the training size: does rendering the hole at the photo's own pixel grid pay?

The demo world is procedural, so its val scenes can be rendered natively at any size with the
same layouts (``render_scene(size, rng)`` with the val image's seed: layouts are fractions of
the side, textures and noise are per pixel). A model trained at 64 px inpaints them at 4x and 8x
(256 and 512 px) by four methods (:mod:`sair_toolbox.apis.strategies`):

* ``crop-native``: each hole's crop at the working size, AIR rendering the hole at the photo's
  pixel grid (the ``crop`` strategy);
* ``crop-bicubic``: the same crops, the fill rendered at the working size and bicubically
  upsampled (``render='bicubic'``);
* ``resize``: the whole photo at the working size, the hole rendered at the photo's grid;
* ``full``: the whole photo through the model at its own resolution.

The holes are photo-like (:func:`photo_hole`): one or two objects (an ellipse or a box) and
sometimes a scribble, 2-10 % of the photo, seeded by ``(mask seed, image)``. Scores are on the
hole only, against the natively rendered ground truth (uint8): PSNR of the hole's pixels, SSIM
(scikit-image, ``channel_axis``, ``data_range=255``) averaged over the hole, and LPIPS of the
hole's bounding box when its backbone weights are on disk (``lpips=``; none is downloaded).
Each mask seed is one "seed" of the stats module: means over seeds with their std, and paired
comparisons (t and hierarchical bootstrap intervals) of ``crop-native`` against each other
method on the same (seed, image) pairs.
"""
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

METHODS = ('crop-native', 'crop-bicubic', 'resize', 'full')
#: ``method: (strategy, render)``.
_METHOD_ARGS = {'crop-native': ('crop', 'native'), 'crop-bicubic': ('crop', 'bicubic'),
                'resize': ('resize', 'native'), 'full': ('full', 'native')}
#: Seed stream of the holes (kept apart from the data streams of the demo world).
HOLE_STREAM = 23


def photo_hole(size: int, seed: int, index: int) -> np.ndarray:
    """A photo-like hole: (size, size) float32 {0, 1}, 2-10 % of the image.

    One or two objects (an ellipse or an axis-aligned box, 6-22 % of the side each), and with
    probability 1/2 a scribble (a thick polyline of 3-5 points), redrawn until the area is in
    [2 %, 10 %]. Seeded by ``SeedSequence([seed, HOLE_STREAM, index])``; layouts are fractions of
    ``size``, so the same (seed, index) gives the same hole shape at every size.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, HOLE_STREAM, index]))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    yy, xx = yy / size, xx / size
    for _ in range(100):
        hole = np.zeros((size, size), bool)
        for _ in range(int(rng.integers(1, 3))):
            cy, cx = rng.uniform(0.15, 0.85, 2)
            ry, rx = rng.uniform(0.03, 0.11, 2)
            if rng.random() < 0.5:
                hole |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
            else:
                hole |= (np.abs(yy - cy) < ry) & (np.abs(xx - cx) < rx)
        if rng.random() < 0.5:
            points = rng.uniform(0.1, 0.9, (int(rng.integers(3, 6)), 2))
            width = rng.uniform(0.01, 0.025)
            for (y0, x0), (y1, x1) in zip(points[:-1], points[1:]):
                d = np.array([y1 - y0, x1 - x0])
                t = np.clip(((yy - y0) * d[0] + (xx - x0) * d[1]) / max(d @ d, 1e-9), 0, 1)
                hole |= (yy - y0 - t * d[0]) ** 2 + (xx - x0 - t * d[1]) ** 2 < width ** 2
        if 0.02 <= hole.mean() <= 0.10:
            return hole.astype(np.float32)
    return hole.astype(np.float32)  # pragma: no cover - 100 draws always hit the range


def hole_scores(gt: np.ndarray, out: np.ndarray, hole: np.ndarray,
                lpips_fn=None) -> Dict[str, float]:
    """Hole PSNR (dB), hole SSIM and (if ``lpips_fn``) LPIPS of the hole's bounding box.

    Args:
        gt, out: (H, W, 3) uint8.
        hole: (H, W), nonzero = hole.
        lpips_fn: ``fn(a, b) -> float`` on (h, w, 3) uint8 crops, or None.
    """
    from skimage.metrics import structural_similarity
    m = hole > 0
    diff = gt[m].astype(np.float64) - out[m].astype(np.float64)
    mse = float((diff ** 2).mean())
    psnr = float('inf') if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
    _, ssim_map = structural_similarity(gt, out, channel_axis=2, data_range=255, full=True)
    scores = dict(PSNR=float(psnr), SSIM=float(ssim_map[m].mean()))
    if lpips_fn is not None:
        ys, xs = np.nonzero(m)
        box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        scores['LPIPS'] = float(lpips_fn(gt[box], out[box]))
    return scores


def _lpips(net: str):
    """``fn(a, b)`` on uint8 crops with an LPIPS module built from files on disk."""
    import torch

    from sair_toolbox.evaluation.lpips_loader import build_lpips
    module = build_lpips(net).eval()

    def fn(a, b):
        def t(x):
            return torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1
        with torch.no_grad():
            return module(t(a), t(b)).item()

    return fn


def run_photo_quality(config: str, checkpoint: str, sizes: Sequence[int] = (256, 512),
                      num_images: int = 40, mask_seeds: Sequence[int] = (0, 1, 2),
                      methods: Sequence[str] = METHODS, data_seed: int = 0,
                      lpips: Optional[str] = None, threads: int = 2,
                      log=print) -> Dict:
    """Score every method on every (size, mask seed, val image).

    Args:
        config, checkpoint: the model (the demo config and its checkpoint).
        sizes: photo sides (the val scenes rendered natively there).
        num_images: val scenes (``SeedSequence([data_seed, 1, i])``, the demo val images).
        mask_seeds: the seeds of the holes.
        methods: a subset of :data:`METHODS`.
        data_seed: the demo world's data seed.
        lpips: an LPIPS trunk (``'alex'``, ``'vgg'``) whose weights are on disk, or None.
        threads: torch threads.
        log: where progress lines go.

    Returns:
        ``{'setting': ..., 'records': {size: {method: {seed: {image: scores}}}}}``.
    """
    import torch

    from sair_toolbox.apis import SAIRInferencer
    from sair_toolbox.datasets.demo_scenes import DEMO_SPLITS, render_scene
    torch.set_num_threads(threads)
    unknown = set(methods) - set(METHODS)
    if unknown:
        from sair_toolbox.utils.errors import ConfigError
        raise ConfigError(f'unknown methods {sorted(unknown)}; choose from {METHODS}')
    inf = SAIRInferencer(config, checkpoint, device='cpu', precision='fp32')
    lpips_fn = _lpips(lpips) if lpips else None
    records: Dict = {}
    start = time.perf_counter()
    for size in sizes:
        per = records.setdefault(str(size), {m: {} for m in methods})
        for i in range(num_images):
            rng = np.random.default_rng(np.random.SeedSequence([data_seed, DEMO_SPLITS['val'],
                                                                i]))
            gt, _ = render_scene(int(size), rng)
            for seed in mask_seeds:
                hole = photo_hole(int(size), int(seed), i)
                for method in methods:
                    strategy, render = _METHOD_ARGS[method]
                    result = inf(gt, hole, strategy=strategy, render=render, labels=False)
                    scores = hole_scores(gt, result.output, hole, lpips_fn)
                    scores.update(hole=float(hole.mean()), strategy=result.strategy,
                                  crops=len(result.crops))
                    per[method].setdefault(str(seed), {})[str(i)] = scores
        log(f'photo_quality: {size} px done ({time.perf_counter() - start:.0f} s)')
    setting = dict(config=config, checkpoint=checkpoint, sizes=[int(s) for s in sizes],
                   num_images=int(num_images), mask_seeds=[int(s) for s in mask_seeds],
                   methods=list(methods), data_seed=int(data_seed), lpips=lpips,
                   precision='fp32', threads=int(threads), working_size=inf.working_size,
                   seconds=round(time.perf_counter() - start, 1))
    return dict(setting=setting, records=records)


def _scores(per_seed: Dict, metric: str) -> Dict:
    return {seed: {img: s[metric] for img, s in imgs.items()} for seed, imgs in per_seed.items()}


def summarize(result: Dict) -> str:
    """The Markdown tables: per size, each method's hole PSNR/SSIM(/LPIPS) as mean ± std over
    mask seeds, and ``crop-native`` minus each other method with its 95 % interval."""
    from .stats import compare_paired, format_mean_std
    setting = result['setting']
    metrics = ['PSNR', 'SSIM'] + (['LPIPS'] if setting.get('lpips') else [])
    lines = [f"Hole scores of the demo model ({osp.basename(setting['checkpoint'])}, trained at "
             f"{setting['working_size']} px) on {setting['num_images']} demo val scenes rendered "
             f"natively, x {len(setting['mask_seeds'])} mask seeds "
             f"({', '.join(map(str, setting['mask_seeds']))}); mean ± std over the mask seeds; "
             f"precision {setting['precision']}.", '']
    if not setting.get('lpips'):
        lines += ['LPIPS: not measured (its ImageNet backbone weights are not on this machine; '
                  'pass --lpips alex with the weights on disk).', '']
    for size, per in result['records'].items():
        methods = [m for m in setting['methods'] if m in per]  # results.json sorts its keys
        factor = int(size) / int(setting['working_size'] or 1)
        lines += [f'### {size} px ({factor:g}x the training size)', '',
                  '| method | ' + ' | '.join(f'hole {m}' for m in metrics)
                  + ' | strategy used |', '|---' * (len(metrics) + 2) + '|']
        for method in methods:
            cells = []
            for metric in metrics:
                per_seed = [float(np.mean([s[metric] for s in imgs.values()]))
                            for imgs in per[method].values()]
                mean, std = float(np.mean(per_seed)), float(np.std(per_seed, ddof=1)) \
                    if len(per_seed) > 1 else None
                cells.append(format_mean_std(mean, std, 2 if metric == 'PSNR' else 4))
            used = sorted({s['strategy'] for imgs in per[method].values() for s in imgs.values()})
            lines.append(f'| {method} | ' + ' | '.join(cells) + f" | {', '.join(used)} |")
        if 'crop-native' in per:
            lines += ['', '| crop-native minus | ' + ' | '.join(
                f'{m} (95 % interval)' for m in metrics) + ' |', '|---' * (len(metrics) + 1)
                + '|']
            for other in methods:
                if other == 'crop-native':
                    continue
                cells = []
                for metric in metrics:
                    c = compare_paired(_scores(per['crop-native'], metric),
                                       _scores(per[other], metric))
                    digits = 2 if metric == 'PSNR' else 4
                    mark = '' if c.distinguishable else ' (n.s.)'
                    cells.append(f'{c.mean:+.{digits}f} [{c.interval[0]:+.{digits}f}, '
                                 f'{c.interval[1]:+.{digits}f}]{mark}')
                lines.append(f'| {other} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    return '\n'.join(lines)


def write_outputs(result: Dict, out_dir: str) -> List[str]:
    """``results.json`` and ``tables.md`` in ``out_dir`` (each written atomically)."""
    from .resume import write_text_atomic
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, text in (('results.json', json.dumps(result, indent=1, sort_keys=True) + '\n'),
                       ('tables.md', summarize(result) + '\n')):
        path = osp.join(out_dir, name)
        write_text_atomic(path, text)
        written.append(path)
    return written
