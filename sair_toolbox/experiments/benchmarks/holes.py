"""Holes suite: hole-only rendering (``SAIR.inpaint`` at the input size) against the full render.

At the input size ``SAIR.inpaint`` queries AIR only at the hole's pixels (``SAIR.fill_hole``) and
evaluates the SIR field only where those queries read it (``SAIR.field_support``). Before, it
rendered every pixel and pasted the input back over the known ones; that composite,

    ``img * (1 - mask) + model.render(model.encode(img, mask), size) * mask``,

is the reference here. The model is the SAIR paper config (``configs/sair/sair_celebahq.py``,
random weights, SIR folded as it runs by default) at S x S, batch 1, with holes of 10 / 25 / 50 %
of the image (:func:`box_and_strokes`: a box and brush strokes, fixed seed), in float32 and in
the precision ``precision='auto'`` picks on this machine (bf16 where oneDNN has native bfloat16
kernels; only fp32 otherwise). Per case: both median times, their ratio (hole-only / full), and
whether the two outputs are bitwise equal.

Timing: one model, in one process at torch's thread count; every (precision, hole, method) run
interleaved round by round (so that load from other processes hits them alike), median of
``repeat`` rounds after a warm-up round.
"""
import os
import statistics
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from sair_toolbox.experiments.benchmarks.model import build_paper_model

#: Hole fractions of the table (of the image's pixels).
FRACTIONS = (0.10, 0.25, 0.50)
#: The two methods: the old full render + composite, and ``SAIR.inpaint`` (hole only).
METHODS = ('full', 'hole')


def box_and_strokes(height: int, width: int, fraction: float, seed: int = 0,
                    box_share: float = 0.7, stroke: Optional[int] = None,
                    spread: Optional[float] = None) -> np.ndarray:
    """A hole of about ``fraction`` of the image: a box, then brush strokes until it is reached.

    The box holds ``box_share`` of the hole's pixels (aspect ratio drawn in [0.75, 1.33], placed
    at random inside the image); the strokes are one random walk of straight segments of width
    ``stroke`` (default: the shorter side / 40, at least 1 px), drawn segment by segment until the
    hole covers ``fraction`` (it overshoots by at most one segment). With ``spread``, the walk
    starts at the box's centre and stays in a square of ``spread`` x the box's longer side
    around it (a scribble over an object's outline rather than across the photo).

    Args:
        height, width: image size.
        fraction: target hole fraction in (0, 1).
        seed: seed of the box's place and the walk.
        box_share: part of the hole that is the box (0: strokes only; 1: the box only).
        stroke: stroke width in pixels.
        spread: confine the strokes near the box (see above); None: anywhere in the image.

    Returns:
        (H, W) float32 in {0, 1}, 1 = missing.
    """
    from PIL import Image, ImageDraw
    rng = np.random.default_rng(seed)
    target = fraction * height * width
    canvas = Image.new('L', (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    lo, hi = (0.0, 0.0), (float(height), float(width))  # the walk's window
    if box_share > 0:
        aspect = rng.uniform(0.75, 1.33)  # width / height
        bh = max(1, min(height, int(round(np.sqrt(box_share * target / aspect)))))
        bw = max(1, min(width, int(round(box_share * target / bh))))
        y0 = int(rng.integers(0, height - bh + 1))
        x0 = int(rng.integers(0, width - bw + 1))
        draw.rectangle([x0, y0, x0 + bw - 1, y0 + bh - 1], fill=255)
        if spread is not None:
            cy, cx, half = y0 + bh / 2, x0 + bw / 2, spread * max(bh, bw) / 2
            lo = (max(0.0, cy - half), max(0.0, cx - half))
            hi = (min(float(height), cy + half), min(float(width), cx + half))
    stroke = stroke or max(1, min(height, width) // 40)
    step = max(2, int(min(hi[0] - lo[0], hi[1] - lo[1])) // 8)
    y, x = rng.uniform(lo[0], hi[0]), rng.uniform(lo[1], hi[1])
    angle = rng.uniform(0, 2 * np.pi)
    covered = np.count_nonzero(np.asarray(canvas))
    for _ in range(100000):
        if covered >= target:
            break
        angle += rng.uniform(-1.2, 1.2)
        ny, nx = y + step * np.sin(angle), x + step * np.cos(angle)
        if not (lo[0] <= ny < hi[0] and lo[1] <= nx < hi[1]):  # turn back inside
            angle += np.pi
            ny, nx = (min(max(ny, lo[0]), hi[0] - 1), min(max(nx, lo[1]), hi[1] - 1))
        draw.line([(x, y), (nx, ny)], fill=255, width=stroke)
        y, x = ny, nx
        covered = np.count_nonzero(np.asarray(canvas))
    return (np.asarray(canvas) > 0).astype(np.float32)


def _runs(model, size: int, fractions: Sequence[float], seed: int):
    """``(inputs, fns)``: per fraction the (img, mask), per (fraction, method) the call."""
    gen = torch.Generator().manual_seed(seed)
    img = torch.rand(1, 3, size, size, generator=gen)
    inputs, fns = {}, {}
    for frac in fractions:
        mask = torch.from_numpy(box_and_strokes(size, size, frac, seed))[None, None]
        inputs[frac] = (img, mask)

        def full(img=img, mask=mask):
            out = model.render(model.encode(img, mask), tuple(img.shape[-2:]))
            return img * (1 - mask) + out * mask

        def hole(img=img, mask=mask):
            return model.inpaint(img, mask)

        fns[frac, 'full'], fns[frac, 'hole'] = full, hole
    return inputs, fns


def holes_benchmark(repeat: int, *, size: int = 256, fractions: Sequence[float] = FRACTIONS,
                    quick: bool = False, seed: int = 0,
                    precisions: Optional[Sequence[str]] = None,
                    results: Optional[str] = None) -> Dict[str, object]:
    """Print, per precision and hole fraction, the full render + composite against hole-only
    ``SAIR.inpaint``: both median times, the ratio, and whether the outputs are bitwise equal.

    Args:
        repeat: Timed rounds, >= 1 (after one warm-up round).
        size: Side S of the image.
        fractions: Hole fractions.
        quick: Tiny widths of the paper config's composition (a smoke run of the code).
        seed: Seed of the image and the holes.
        precisions: Precisions to run (default: ``fp32`` and what ``auto`` picks here, once).
        results: a folder to write ``holes.json`` and ``holes.md`` to (with the machine).

    Returns:
        ``{'size', 'threads', 'auto': (name, reason), 'rows': [{'precision', 'fraction'
        (requested), 'hole' (measured), 'full_s', 'hole_s', 'ratio' (hole / full), 'equal',
        'max_diff'}]}``.
    """
    from sair_toolbox.experiments.benchmarks.photos import machine, write_results
    from sair_toolbox.utils.precision import autocast, resolve_precision
    auto = resolve_precision('auto', 'cpu')
    info = machine()
    if precisions is None:
        precisions = ['fp32'] + ([auto[0]] if auto[0] != 'fp32' else [])
    model = build_paper_model(quick)
    model.eval()
    inputs, fns = _runs(model, size, fractions, seed)
    print(f'\nholes benchmark: SAIR paper config{" (tiny widths, --quick)" if quick else ""}, '
          f'random weights, {size} x {size}, batch 1, torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads; median of {repeat} rounds after a warm-up, every '
          'case interleaved in each round')
    print(f'CPU: {info["cpu"]}, avx512_bf16 {"yes" if info["avx512_bf16"] else "no"}; load '
          f'average {" ".join(f"{v:.2f}" for v in info["load_average"])}')
    print(f"precision 'auto' picks {auto[0]} here ({auto[1]})")
    print('full = model.render(model.encode(img, mask), size) composited with the input; '
          'hole = model.inpaint (AIR at the hole\'s pixels, SIR field near the hole only)')
    times: Dict[Tuple, List[float]] = {}
    outs: Dict[Tuple, torch.Tensor] = {}
    with torch.no_grad():
        for r in range(1 + repeat):
            for prec in precisions:
                for frac in fractions:
                    for method in METHODS:
                        with autocast(prec, 'cpu'):
                            start = time.perf_counter()
                            out = fns[frac, method]()
                            took = time.perf_counter() - start
                        if r:
                            times.setdefault((prec, frac, method), []).append(took)
                        outs[prec, frac, method] = out
    header = (f'{"precision":<10} {"hole":>9} {"full s":>9} {"hole s":>9} {"hole/full":>10} '
              f'{"bitwise":>8}')
    print(header)
    print('-' * len(header))
    rows = []
    for prec in precisions:
        for frac in fractions:
            full_s = statistics.median(times[prec, frac, 'full'])
            hole_s = statistics.median(times[prec, frac, 'hole'])
            a, b = outs[prec, frac, 'full'], outs[prec, frac, 'hole']
            equal = bool(torch.equal(a, b))
            diff = float((a.float() - b.float()).abs().max())
            measured = float(inputs[frac][1].mean())
            rows.append(dict(precision=prec, fraction=frac, hole=measured, full_s=full_s,
                             hole_s=hole_s, ratio=hole_s / full_s, equal=equal, max_diff=diff,
                             full_min_s=min(times[prec, frac, 'full']),
                             hole_min_s=min(times[prec, frac, 'hole'])))
            print(f'{prec:<10} {100 * measured:>8.1f}% {full_s:>9.3f} {hole_s:>9.3f} '
                  f'{hole_s / full_s:>9.2f}x {"yes" if equal else f"no {diff:.1e}":>8}',
                  flush=True)
    print('config: configs/sair/sair_celebahq.py (random weights, sir.encoder.pretrained=None)')
    info['load_average_after'] = list(os.getloadavg())
    out = dict(size=size, threads=torch.get_num_threads(), auto=list(auto), rows=rows,
               repeat=repeat, quick=quick, seed=seed, machine=info,
               command=f'python tools/benchmark.py --suite holes --size {size} --repeat {repeat}'
               + (' --quick' if quick else ''))
    if results:
        write_results(out, results, 'holes', holes_markdown)
    return out


def holes_markdown(out: Dict[str, object]) -> str:
    """The table of :func:`holes_benchmark`'s result in Markdown (with ``out['machine']``, the
    photos suite's :func:`~.photos.machine`, when present)."""
    lines = [f'Command: `{out["command"]}`', ''] if out.get('command') else []
    m = out.get('machine')
    if m:
        lines += [f'CPU: {m["cpu"]} (avx512_bf16 {"yes" if m["avx512_bf16"] else "no"}, oneDNN '
                  f'bf16 {"yes" if m["onednn_bf16"] else "no"}), {m["cores"]} cores, torch '
                  f'{m["torch"]}, {m["threads"]} threads; load average '
                  f'{" ".join(f"{v:.2f}" for v in m["load_average"])} before, '
                  f'{" ".join(f"{v:.2f}" for v in m.get("load_average_after", []))} after.', '']
    lines += [f'SAIR paper config, random weights, {out["size"]} x {out["size"]}; precision auto '
              f'picks {out["auto"][0]} here. Median of {out["repeat"]} rounds after a warm-up.',
              '', '| precision | hole | full render + composite s | hole-only s | hole / full '
              '| fastest rounds: full / hole s | bitwise equal |',
              '| --- | ---: | ---: | ---: | ---: | ---: | --- |']
    for r in out['rows']:
        fastest = (f'{r["full_min_s"]:.3f} / {r["hole_min_s"]:.3f}' if 'full_min_s' in r
                   else '-')
        lines.append(f'| {r["precision"]} | {100 * r["hole"]:.1f}% | {r["full_s"]:.3f} | '
                     f'{r["hole_s"]:.3f} | {r["ratio"]:.2f}x | {fastest} | '
                     f'{"yes" if r["equal"] else "no, max " + format(r["max_diff"], ".1e")} |')
    return '\n'.join(lines) + '\n'
