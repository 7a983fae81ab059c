"""Photos suite: phone-sized photos through ``tools/inpaint.py``, and SAIR's crop path beside
LaMa's big-lama generator under IOPaint's ``Crop`` strategy.

Two photos, drawn procedurally (:func:`draw_photo`: smooth gradients, shapes, sensor-like noise;
saved as JPEG quality 90) with holes of :func:`~.holes.box_and_strokes` (a box and a scribble,
fixed seed):

- ``12mp``: 4032 x 3024 (a phone photo), a 1 % hole;
- ``1mp``: 1024 x 1024, a 10 % hole.

Part 1, the CLI (:func:`cli_benchmark`): ``python tools/inpaint.py --strategy auto`` in a child
process per run, for the demo model (``configs/sair/sair_demo.py`` and its checkpoint) and the
paper config with random weights (``configs/sair/sair_celebahq.py``, a config inheriting it with
``sir.encoder.pretrained=None`` and a checkpoint of its seed-0 weights, both written to a
temporary folder), with a ``.png`` and a ``.jpg`` output; ``--strategy full`` (the old
behaviour) for both photos (the memory guard refuses the 12 MP one with its estimate: that line
is shown). Per run: wall time of the child and its peak resident set (GNU time's
``Maximum resident set size``, :func:`run_child`). One more child per (model, photo) runs the same steps as the CLI with a clock
between them (:func:`breakdown_child`): interpreter start, ``import torch`` and the toolbox, model
build (config, checkpoint, weights), image decode, inpaint (plan, crops, encode, render, paste),
PNG and JPEG encode of the output. The issue's targets are printed beside the numbers: demo
model <= 6 s and <= 1.5 GB on the 12 MP photo, paper config <= 20 s.

Part 2, side by side in one process (:func:`side_by_side`), float32, torch's thread count: LaMa's
big-lama generator (advimman/lama's ``FFCResNetGenerator`` with ``configs/training/big-lama.yaml``'s
generator arguments, random weights; imported from a local checkout, ``--lama-repo``, nothing of
it is in this project) under IOPaint's ``Crop`` strategy (:func:`iopaint_crops`, re-implemented
from its documented behaviour: each hole contour's box plus ``hd_strategy_crop_margin`` = 128 px
on every side, shifted inside the photo, run at the crop's own resolution, padded (symmetric) to
a multiple of 8; photos whose longer side is at most 800 px run whole), against SAIR's crop path
(``SAIRInferencer(strategy='crop')``: each hole box with its context resized to the working size,
the hole rendered at the photo's pixel grid) for the paper config (random weights) and the demo
model; then both models alone on a whole 256 x 256 and 512 x 512 image with a 12.5 % hole.
Every method takes and returns a uint8 photo and writes only hole pixels. Timing: the methods
interleaved round by round, median of ``repeat`` rounds after a warm-up round; memory: one more
run of each, the rise of the resident set during it (:func:`~.common.peak_memory_mib`). Without
``--lama-repo`` (or when it cannot be imported) one line says so and the LaMa rows are skipped.
"""
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from sair_toolbox.experiments.benchmarks.common import REPO_ROOT, peak_memory_mib
from sair_toolbox.experiments.benchmarks.holes import box_and_strokes

DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'sair', 'sair_demo.py')
PAPER_CONFIG = osp.join(REPO_ROOT, 'configs', 'sair', 'sair_celebahq.py')
INPAINT = osp.join(REPO_ROOT, 'tools', 'inpaint.py')
#: (name, height, width, hole fraction): the two photos of the issue.
PHOTO_CASES = (('12mp', 3024, 4032, 0.01), ('1mp', 1024, 1024, 0.10))
#: (name, side, hole fraction): the models alone on a whole image.
MODEL_ALONE = (('256', 256, 0.125), ('512', 512, 0.125))
#: The issue's targets on the 12 MP photo: (model, seconds, peak RSS MiB or None).
TARGETS = {'demo': (6.0, 1.5 * 1024), 'paper': (20.0, None)}
#: IOPaint's defaults for its ``Crop`` strategy (its ``InpaintRequest`` fields).
IOPAINT_CROP_MARGIN = 128
IOPAINT_CROP_TRIGGER = 800
IOPAINT_PAD_MOD = 8
#: big-lama's generator (``configs/training/big-lama.yaml`` of advimman/lama).
BIG_LAMA = dict(input_nc=4, output_nc=3, ngf=64, n_downsampling=3, n_blocks=18,
                add_out_act='sigmoid',
                init_conv_kwargs=dict(ratio_gin=0, ratio_gout=0, enable_lfu=False),
                downsample_conv_kwargs=dict(ratio_gin=0, ratio_gout=0, enable_lfu=False),
                resnet_conv_kwargs=dict(ratio_gin=0.75, ratio_gout=0.75, enable_lfu=False))

Box = Tuple[int, int, int, int]  # (y0, y1, x0, x1), half-open


# ---------------------------------------------------------------------- the photos
def draw_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like (H, W, 3) uint8 image: a sky-to-ground gradient, soft shapes, noise.

    Made at a quarter of the size (smooth content) and bicubically enlarged, then ellipses and
    rectangles with hard edges and Gaussian noise (sigma 4 levels) at full size, so that JPEG has
    the texture and edges of a real photo to encode.
    """
    from PIL import Image, ImageDraw
    rng = np.random.default_rng(seed)
    h4, w4 = max(1, height // 4), max(1, width // 4)
    yy, xx = np.mgrid[0:h4, 0:w4].astype(np.float32)
    t = yy / max(h4 - 1, 1)
    base = np.stack([90 + 120 * (1 - t) + 20 * np.sin(xx / max(w4, 1) * 6),
                     140 + 60 * (1 - t) * np.cos(xx / max(w4, 1) * 3),
                     200 - 140 * t], axis=-1)
    small = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    img = small.resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(24):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(0.02, 0.15) * width, rng.uniform(0.02, 0.15) * height
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.6 else draw.rectangle
        shape([cx - rx, cy - ry, cx + rx, cy + ry], fill=colour)
    out = np.asarray(img, dtype=np.int16)
    out = out + rng.normal(0, 4, out.shape).astype(np.int16)
    return np.clip(out, 0, 255).astype(np.uint8)


def photo_hole(height: int, width: int, fraction: float, seed: int = 0) -> np.ndarray:
    """The hole of a photo case: a box (75 % of the hole) and a scribble of width
    ``min(H, W) / 150`` (at least 2 px) within 1.5 x the box's side around it
    (:func:`~.holes.box_and_strokes`); (H, W) float32."""
    return box_and_strokes(height, width, fraction, seed, box_share=0.75,
                           stroke=max(2, min(height, width) // 150), spread=1.5)


def write_photo_case(folder: str, name: str, height: int, width: int, fraction: float,
                     seed: int = 0) -> Tuple[str, str]:
    """Write ``folder/<name>.jpg`` (:func:`draw_photo`, JPEG quality 90) and ``<name>_mask.png``
    (:func:`photo_hole`, white = hole); returns their paths."""
    from PIL import Image
    img_path = osp.join(folder, f'{name}.jpg')
    mask_path = osp.join(folder, f'{name}_mask.png')
    Image.fromarray(draw_photo(height, width, seed)).save(img_path, quality=90)
    Image.fromarray((photo_hole(height, width, fraction, seed) * 255).astype(np.uint8)).save(
        mask_path)
    return img_path, mask_path


def random_checkpoint(folder: str, config: str = PAPER_CONFIG,
                      options: Optional[Dict[str, Any]] = None,
                      name: str = 'paper_random') -> Tuple[str, str]:
    """A config inheriting ``config`` with ``model.sir.encoder.pretrained=None`` (nothing read
    from disk) and a checkpoint of its model's seed-0 random weights
    (``{'state_dict': ..., 'meta': {}}``), written to ``folder``; returns their paths.

    Args:
        folder: where to write ``<name>.py`` and ``<name>.pth``.
        config: the config to inherit.
        options: the inheriting config's ``model = dict(...)`` overrides (default: the encoder's
            ``pretrained=None``).
        name: file stem.
    """
    import torch

    from sair_toolbox.experiments.benchmarks.common import build_random_model
    model_options = options if options is not None else dict(
        sir=dict(encoder=dict(pretrained=None)))
    cfg_path = osp.join(folder, f'{name}.py')
    with open(cfg_path, 'w') as f:
        f.write(f'_base_ = [{osp.abspath(config)!r}]\nmodel = {model_options!r}\n')
    model, _ = build_random_model(cfg_path, {})
    ckpt = osp.join(folder, f'{name}.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    del model
    return cfg_path, ckpt


# ---------------------------------------------------------------------- part 1: the CLI
def run_child(cmd: Sequence[str], cwd: str = REPO_ROOT,
              env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Run a command; its wall time, peak resident set and output.

    The peak is GNU time's "Maximum resident set size" (``/usr/bin/time -v``, itself a small
    process): a child forked straight from this process would inherit this process's own peak
    in its ``ru_maxrss`` (Linux keeps the high-water mark across fork and exec), a floor of the
    benchmark's size. Without ``/usr/bin/time``, ``os.wait4``'s ``ru_maxrss`` (an upper bound).

    Returns:
        ``{'rc', 'wall_s', 'max_rss_mib', 'rss_from' ('time -v' | 'wait4'), 'out' (stdout +
        stderr, text, GNU time's report removed), 'last' (its last non-empty line)}``.
    """
    gnu_time = osp.isfile('/usr/bin/time')
    with tempfile.TemporaryDirectory() as tmp:
        report = osp.join(tmp, 'time.txt')
        full = (['/usr/bin/time', '-v', '-o', report] if gnu_time else []) + list(cmd)
        with open(osp.join(tmp, 'log'), 'w+b') as log:
            start = time.perf_counter()
            proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            log.seek(0)
            out = log.read().decode('utf-8', 'replace')
        rss_kib, rss_from = usage.ru_maxrss, 'wait4'
        if gnu_time and osp.isfile(report):
            with open(report) as f:
                text = f.read()
            for line in text.splitlines():
                if 'Maximum resident set size' in line:
                    rss_kib, rss_from = int(line.rsplit(':', 1)[1]), 'time -v'
    lines = [line for line in out.splitlines() if line.strip()]
    return dict(rc=proc.returncode, wall_s=wall, max_rss_mib=rss_kib / 1024, rss_from=rss_from,
                out=out, last=lines[-1] if lines else '')


#: The child of :func:`breakdown_child`: its clock starts before anything is imported.
BREAKDOWN_SCRIPT = (
    'import time; t0 = time.perf_counter(); import torch; t1 = time.perf_counter(); '
    'import sys; from sair_toolbox.apis import SAIRInferencer; t2 = time.perf_counter(); '
    'from sair_toolbox.experiments.benchmarks.photos import breakdown_child; '
    'breakdown_child((t0, t1, t2), sys.argv[1:])')


def breakdown_child(clock: Tuple[float, float, float], argv: Sequence[str]) -> None:
    """Inside a child (:data:`BREAKDOWN_SCRIPT`): what ``tools/inpaint.py`` does for one photo,
    with a clock between the steps; prints one ``BREAKDOWN {json}`` line (seconds).

    ``argv``: config, checkpoint, image, mask, output stem, strategy, extra
    ``SAIRInferencer`` keyword arguments as JSON.
    """
    from sair_toolbox.apis import SAIRInferencer
    from sair_toolbox.apis.batch import save_atomic
    from sair_toolbox.apis.inputs import load_pair
    t0, t1, t2 = clock
    config, ckpt, img, mask, stem, strategy, extra = argv
    start = time.perf_counter()
    inf = SAIRInferencer(config, ckpt, strategy=strategy, **json.loads(extra))
    inf.model
    t3 = time.perf_counter()
    rgb, hole = load_pair(img, mask, inf.threshold, inf.polarity)
    t4 = time.perf_counter()
    result = inf.inpaint_array(rgb, hole, rgb.shape[:2], labels=False)
    t5 = time.perf_counter()
    save_atomic(result.output, stem + '.png')
    t6 = time.perf_counter()
    save_atomic(result.output, stem + '.jpg')
    t7 = time.perf_counter()
    print('BREAKDOWN ' + json.dumps(dict(
        import_torch=t1 - t0, import_toolbox=t2 - t1 + start - t2, build=t3 - start,
        decode=t4 - t3, inpaint=t5 - t4, png=t6 - t5, jpg=t7 - t6, total=t7 - t0,
        strategy=result.strategy, crops=len(result.crops), precision=inf.precision)))


def _models(demo_checkpoint: Optional[str], paper: Optional[Tuple[str, str]]):
    """``[(key, label, config, checkpoint)]`` of the models that are there."""
    models = []
    if demo_checkpoint:
        models.append(('demo', 'demo model', DEMO_CONFIG, demo_checkpoint))
    if paper:
        models.append(('paper', 'paper config, random weights', *paper))
    return models


def cli_benchmark(folder: str, cases: Sequence[Tuple[str, str, str, float]],
                  models: Sequence[Tuple[str, str, str, str]], *,
                  formats: Sequence[str] = ('png', 'jpg'), full: bool = True,
                  breakdown: bool = True, extra_args: Sequence[str] = (),
                  extra_kwargs: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Time ``tools/inpaint.py`` in child processes and print one table row per run.

    Args:
        folder: where outputs are written.
        cases: ``(name, image path, mask path, hole fraction)``.
        models: ``(key, label, config, checkpoint)``.
        formats: output extensions of the ``--strategy auto`` runs.
        full: also run ``--strategy full`` (PNG output) per case.
        breakdown: also run :func:`breakdown_child` per (model, case).
        extra_args: more CLI flags (e.g. ``--working-size`` for a config without ``img_size``).
        extra_kwargs: the same for the breakdown child's ``SAIRInferencer``.

    Returns:
        One dict per run: ``model``, ``case``, ``strategy``, ``format``, ``cmd``, ``rc``,
        ``wall_s``, ``max_rss_mib``, ``last`` (the CLI's last line), and for breakdown rows
        ``breakdown`` (:func:`breakdown_child`'s seconds) and ``startup`` (wall - its total).
    """
    rows = []
    header = (f'{"model":<30} {"photo":<6} {"strategy":<9} {"out":<4} {"wall s":>8} '
              f'{"peak RSS MiB":>13}  result')
    print(header)
    print('-' * len(header))
    for key, label, config, ckpt in models:
        for case, img, mask, _ in cases:
            runs = [('auto', fmt) for fmt in formats] + ([('full', 'png')] if full else [])
            for strategy, fmt in runs:
                out = osp.join(folder, f'{key}_{case}_{strategy}.{fmt}')
                cmd = [sys.executable, INPAINT, '--config', config, '--checkpoint', ckpt,
                       '--img', img, '--mask', mask, '--out', out, '--strategy', strategy,
                       *extra_args]
                res = run_child(cmd)
                row = dict(model=key, case=case, strategy=strategy, format=fmt,
                           cmd=' '.join(_short(c) for c in cmd[1:]), rc=res['rc'],
                           wall_s=res['wall_s'], max_rss_mib=res['max_rss_mib'],
                           last=res['last'])
                rows.append(row)
                what = 'ok' if res['rc'] == 0 else f'exit {res["rc"]}: {res["last"]}'
                print(f'{label:<30} {case:<6} {strategy:<9} {fmt:<4} {res["wall_s"]:>8.2f} '
                      f'{res["max_rss_mib"]:>13.0f}  {what}', flush=True)
            if breakdown:
                stem = osp.join(folder, f'{key}_{case}_breakdown')
                cmd = [sys.executable, '-c', BREAKDOWN_SCRIPT, config, ckpt, img, mask, stem,
                       'auto', json.dumps(extra_kwargs or {})]
                res = run_child(cmd)
                parts = [json.loads(line[len('BREAKDOWN '):]) for line in res['out'].splitlines()
                         if line.startswith('BREAKDOWN ')]
                row = dict(model=key, case=case, strategy='auto', format='breakdown',
                           rc=res['rc'], wall_s=res['wall_s'], max_rss_mib=res['max_rss_mib'],
                           last=res['last'], breakdown=parts[0] if parts else None,
                           startup=res['wall_s'] - parts[0]['total'] if parts else None)
                rows.append(row)
                if parts:
                    b = parts[0]
                    print(f'{"":<30} {case:<6} breakdown (s): start {row["startup"]:.2f}, '
                          f'import torch {b["import_torch"]:.2f}, toolbox '
                          f'{b["import_toolbox"]:.2f}, build {b["build"]:.2f}, decode '
                          f'{b["decode"]:.2f}, inpaint {b["inpaint"]:.2f} ({b["strategy"]}, '
                          f'{b["crops"]} crops, {b["precision"]}), PNG {b["png"]:.2f}, '
                          f'JPEG {b["jpg"]:.2f}', flush=True)
                else:
                    print(f'{"":<30} {case:<6} breakdown failed (exit {res["rc"]}): '
                          f'{res["last"]}', flush=True)
    return rows


def _short(path: str) -> str:
    """A path relative to the repository when inside it (for the printed commands)."""
    if osp.isabs(path) and path.startswith(REPO_ROOT + os.sep):
        return osp.relpath(path, REPO_ROOT)
    return path


def targets_text(rows: Sequence[Dict[str, Any]], case: str = '12mp') -> List[str]:
    """One line per model with a target: met or missed, by the ``auto`` PNG run of ``case``."""
    lines = []
    for key, (seconds, mib) in TARGETS.items():
        run = [r for r in rows if r['model'] == key and r['case'] == case
               and r['strategy'] == 'auto' and r['format'] == 'png' and r['rc'] == 0]
        if not run:
            continue
        r = run[0]
        ok_t = r['wall_s'] <= seconds
        text = (f'target {key} on {case}: <= {seconds:g} s: {r["wall_s"]:.1f} s '
                f'({"met" if ok_t else "missed"})')
        if mib is not None:
            ok_m = r['max_rss_mib'] <= mib
            text += (f'; <= {mib / 1024:g} GB: {r["max_rss_mib"] / 1024:.2f} GiB '
                     f'({"met" if ok_m else "missed"})')
        lines.append(text)
    return lines


# ---------------------------------------------------------------------- part 2: LaMa
def load_lama(repo: Optional[str]) -> Tuple[Optional[Callable], str]:
    """big-lama's generator class from a local checkout of advimman/lama, or why not.

    The checkout is put first on ``sys.path`` and
    ``saicinpainting.training.modules.ffc.FFCResNetGenerator`` imported (its imports need
    ``kornia`` and ``pytorch_lightning``).

    Returns:
        ``(builder, '')`` where ``builder()`` makes the generator with big-lama's arguments
        (:data:`BIG_LAMA`), random weights from seed 0; or ``(None, one-line reason)``.
    """
    if not repo:
        return None, 'LaMa rows skipped: no --lama-repo given (a checkout of advimman/lama)'
    if not osp.isdir(osp.join(repo, 'saicinpainting')):
        return None, f'LaMa rows skipped: {repo} is not a checkout of advimman/lama ' \
                     '(no saicinpainting/ in it)'
    if repo not in sys.path:
        sys.path.insert(0, repo)
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            from saicinpainting.training.modules.ffc import FFCResNetGenerator
    except Exception as exc:  # any failure of a foreign code base: one line, rows skipped
        first = str(exc).splitlines()[0] if str(exc) else ''
        return None, (f'LaMa rows skipped: cannot import LaMa from {repo}: '
                      f'{type(exc).__name__}: {first}')

    def build():
        import torch
        torch.manual_seed(0)
        return FFCResNetGenerator(**BIG_LAMA).eval()

    return build, ''


def iopaint_crops(hole: np.ndarray, margin: int = IOPAINT_CROP_MARGIN) -> List[Box]:
    """The crops of IOPaint's ``Crop`` strategy, one per hole component (not merged).

    Each 8-connected component's bounding box, grown by ``margin`` on every side around its
    centre; where that leaves the photo, the crop is shifted back inside (more context on the
    other side) and clipped to the photo.

    Returns:
        ``(y0, y1, x0, x1)`` per component, in photo pixels.
    """
    from sair_toolbox.apis.strategies import hole_boxes
    h, w = hole.shape[:2]
    crops = []
    for y0, y1, x0, x1 in hole_boxes(hole):

        def span(a, b, n):
            c, half = (a + b) // 2, (b - a + 2 * margin) // 2
            lo, hi = c - half, c + half
            if lo < 0:
                hi -= lo
            if hi > n:
                lo -= hi - n
            return max(lo, 0), min(hi, n)

        crops.append((*span(y0, y1, h), *span(x0, x1, w)))
    return crops


def lama_inpaint(generator, rgb: np.ndarray, hole: np.ndarray, *, crop: bool = True,
                 margin: int = IOPAINT_CROP_MARGIN, trigger: int = IOPAINT_CROP_TRIGGER,
                 pad_mod: int = IOPAINT_PAD_MOD) -> Tuple[np.ndarray, List[Box]]:
    """Inpaint a photo with a LaMa-style generator as IOPaint runs it.

    With ``crop`` and a photo whose longer side is above ``trigger``, each crop of
    :func:`iopaint_crops` runs at its own resolution; else the whole photo. A region is padded
    (``numpy.pad`` mode ``symmetric``, bottom and right) to a multiple of ``pad_mod``, fed as
    ``cat(img * (1 - mask), mask)`` in [0, 1] (LaMa's 4-channel input), and the output's hole
    pixels are written into a copy of the photo.

    Args:
        generator: a module ``(1, 4, H, W) -> (1, 3, H, W)`` in [0, 1].
        rgb: (H, W, 3) uint8.
        hole: (H, W), nonzero = missing.

    Returns:
        ``(output (H, W, 3) uint8, the regions run)``.
    """
    import torch

    from sair_toolbox.apis.strategies import to_uint8
    h, w = hole.shape[:2]
    boxes = iopaint_crops(hole, margin) if crop and max(h, w) > trigger else [(0, h, 0, w)]
    out = rgb.copy()
    for y0, y1, x0, x1 in boxes:
        img = rgb[y0:y1, x0:x1]
        m = (hole[y0:y1, x0:x1] > 0).astype(np.float32)
        ph, pw = (-(y1 - y0)) % pad_mod, (-(x1 - x0)) % pad_mod
        img_p = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode='symmetric')
        m_p = np.pad(m, ((0, ph), (0, pw)), mode='symmetric')
        x = torch.from_numpy(img_p).permute(2, 0, 1)[None].float().div_(255)
        mt = torch.from_numpy(m_p)[None, None]
        with torch.no_grad():
            pred = generator(torch.cat([x * (1 - mt), mt], dim=1))
        pred = pred[0, :, :y1 - y0, :x1 - x0].permute(1, 2, 0).numpy()
        ys, xs = np.nonzero(m > 0)
        out[y0 + ys, x0 + xs] = to_uint8(pred[ys, xs])
    return out, boxes


def _interleaved(fns: Dict[Tuple[str, str], Callable[[], Any]],
                 repeat: int) -> Dict[Tuple[str, str], float]:
    """Median seconds of each call over ``repeat`` rounds after a warm-up round."""
    times: Dict[Tuple[str, str], List[float]] = {k: [] for k in fns}
    for r in range(1 + repeat):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            if r:
                times[key].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def side_by_side(repeat: int, photos: Sequence[Tuple[str, np.ndarray, np.ndarray]],
                 alone: Sequence[Tuple[str, np.ndarray, np.ndarray]],
                 sair: Sequence[Tuple[str, str, Any]], lama: Optional[Callable] = None,
                 memory: bool = True) -> List[Dict[str, Any]]:
    """SAIR's crop path and LaMa under IOPaint's crop, in one process; prints the table.

    Args:
        repeat: timed rounds, >= 1.
        photos: ``(name, rgb uint8, hole)`` run by crops (SAIR ``strategy='crop'``, LaMa
            :func:`iopaint_crops`).
        alone: ``(name, rgb, hole)`` run whole (SAIR ``strategy='full'``, LaMa uncropped);
            only the first SAIR model (the paper config) runs these.
        sair: ``(key, label, SAIRInferencer)``, fp32.
        lama: the generator module (None: no LaMa rows).
        memory: also measure each run's peak memory.

    Returns:
        One dict per (case, method): ``case``, ``method``, ``seconds``, ``peak_mib``,
        ``regions`` (their sizes), ``ratio`` (seconds / LaMa's, where LaMa ran).
    """
    fns, regions, resolved = {}, {}, {}
    for name, rgb, hole in photos:
        for key, _, inf in sair:
            fns[name, key] = (lambda inf=inf, rgb=rgb, hole=hole: inf.inpaint_array(
                rgb, hole, rgb.shape[:2], labels=False, strategy='crop'))
            plan = inf.plan(rgb.shape[:2], rgb.shape[:2], hole, 'crop')
            resolved[name, key] = plan.strategy  # 'resize' where the crops cover most of it
            regions[name, key] = [f'{b[3] - b[2]}x{b[1] - b[0]}->{s[1]}x{s[0]}'
                                  for b, s in zip(plan.boxes, plan.sizes)]
        if lama is not None:
            fns[name, 'lama'] = lambda rgb=rgb, hole=hole: lama_inpaint(lama, rgb, hole)
            h, w = hole.shape
            boxes = (iopaint_crops(hole) if max(h, w) > IOPAINT_CROP_TRIGGER
                     else [(0, h, 0, w)])
            regions[name, 'lama'] = [f'{b[3] - b[2]}x{b[1] - b[0]}' for b in boxes]
    for name, rgb, hole in alone:
        key, _, inf = sair[0]
        fns[name, key] = (lambda inf=inf, rgb=rgb, hole=hole: inf.inpaint_array(
            rgb, hole, rgb.shape[:2], labels=False, strategy='full'))
        regions[name, key] = [f'{rgb.shape[1]}x{rgb.shape[0]}']
        if lama is not None:
            fns[name, 'lama'] = lambda rgb=rgb, hole=hole: lama_inpaint(lama, rgb, hole,
                                                                        crop=False)
            regions[name, 'lama'] = [f'{rgb.shape[1]}x{rgb.shape[0]}']
    medians = _interleaved(fns, repeat)
    labels = {key: label for key, label, _ in sair}
    if lama is not None:
        n = sum(p.numel() for p in lama.parameters()) / 1e6 if hasattr(lama, 'parameters') else 0
        labels['lama'] = f'LaMa big-lama ({n:.0f} M)' if n >= 1 else 'LaMa-style generator'
    cropped = {name for name, _, _ in photos}
    header = (f'{"case":<24} {"method":<34} {"seconds":>8} {"/ LaMa":>7} {"peak MiB":>9}  '
              'regions (photo px -> model px)')
    print(header)
    print('-' * len(header))
    rows = []
    for (name, key), seconds in medians.items():
        peak = peak_memory_mib(fns[name, key]) if memory else None
        base = medians.get((name, 'lama'))
        row = dict(case=name, method=key, seconds=seconds, peak_mib=peak,
                   regions=regions[name, key], ratio=seconds / base if base else None)
        rows.append(row)
        ratio = f'{row["ratio"]:.2f}x' if row['ratio'] is not None else '-'
        peak_s = f'{peak:.0f}' if peak is not None else '-'
        how = (('IOPaint Crop' if key == 'lama' else resolved[name, key]) if name in cropped
               else 'whole')
        row['how'] = how
        print(f'{name:<24} {labels[key] + ", " + how:<34} {seconds:>8.3f} {ratio:>7} {peak_s:>9}  '
              f'{", ".join(regions[name, key][:3])}{" ..." if len(regions[name, key]) > 3 else ""}',
              flush=True)
    return rows


# ---------------------------------------------------------------------- the suite
def machine() -> Dict[str, Any]:
    """CPU model name, avx512_bf16 flag, the oneDNN bf16 probe and ``auto``'s pick, cores, load
    average, torch and its threads."""
    import torch

    from sair_toolbox.utils.precision import cpu_bf16_supported, resolve_precision
    model, flags = 'unknown', set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() == 'model name' and model == 'unknown':
                    model = value.strip()
                elif key.strip() == 'flags' and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return dict(cpu=model, avx512_bf16='avx512_bf16' in flags, onednn_bf16=cpu_bf16_supported(),
                auto_precision=list(resolve_precision('auto', 'cpu')), cores=os.cpu_count(),
                threads=torch.get_num_threads(), torch=torch.__version__,
                load_average=list(os.getloadavg()))


def photos_benchmark(repeat: int, *, lama_repo: Optional[str] = None,
                     demo_checkpoint: Optional[str] = None, quick: bool = False, seed: int = 0,
                     cli: bool = True, side: bool = True, work_dir: Optional[str] = None,
                     results: Optional[str] = None, paper: Optional[Tuple[str, str]] = None,
                     cases: Sequence[Tuple[str, int, int, float]] = PHOTO_CASES,
                     alone: Sequence[Tuple[str, int, float]] = MODEL_ALONE,
                     extra_args: Sequence[str] = (), demo: bool = True,
                     extra_kwargs: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Both parts of the suite (see the module docstring); prints their tables.

    Args:
        repeat: timed rounds of part 2 (part 1 runs each command once).
        lama_repo: a local checkout of advimman/lama (None: the LaMa rows are skipped).
        demo_checkpoint: the demo model's checkpoint (default: the last one in
            ``work_dirs/sair_demo``; the demo rows are skipped, saying so, when there is none).
        quick: a smoke run: 1 MP photo at 512 x 384 and 256 x 256 (holes alike), paper config
            rows off unless ``paper`` is given, models alone at 64 / 128.
        seed: seed of the photos and holes.
        cli, side: run part 1 / part 2.
        work_dir: where photos, outputs and the random checkpoint go (default: a temporary
            folder, removed after).
        results: a folder to write ``photos.json`` and ``photos.md`` to.
        paper: ``(config, checkpoint)`` of the paper model (default: made by
            :func:`random_checkpoint` unless ``quick``).
        cases, alone: the photos (``(name, H, W, fraction)``) and the whole-image sizes.
        demo: run the demo model's rows.
        extra_args, extra_kwargs: passed to :func:`cli_benchmark` / the inferencers (e.g.
            ``--working-size`` for a config without ``img_size``).

    Returns:
        ``{'machine', 'cli': rows, 'targets': lines, 'side_by_side': rows, 'lama': message}``.
    """
    import shutil

    import torch

    from sair_toolbox.apis import SAIRInferencer
    from sair_toolbox.apis.inferencer import resolve_checkpoint
    from sair_toolbox.utils.errors import SAIRError
    if quick:
        cases = [('quick_a', 384, 512, 0.01), ('quick_b', 256, 256, 0.10)]
        alone = [('64', 64, 0.125), ('128', 128, 0.125)]
    if not demo:
        demo_checkpoint = None
    elif demo_checkpoint is None:
        try:
            demo_checkpoint = resolve_checkpoint(DEMO_CONFIG, None)
        except SAIRError as exc:
            print(f'demo rows skipped: {exc}')
    info = machine()
    print(f'\nphotos benchmark: {info["cpu"]}, avx512_bf16 '
          f'{"yes" if info["avx512_bf16"] else "no"}, {info["cores"]} cores, torch '
          f'{info["torch"]}, {info["threads"]} threads, load average '
          f'{" ".join(f"{v:.2f}" for v in info["load_average"])}')
    temp = work_dir is None
    folder = tempfile.mkdtemp(prefix='sair_photos_') if temp else work_dir
    os.makedirs(folder, exist_ok=True)
    out: Dict[str, Any] = dict(machine=info, repeat=repeat, seed=seed, quick=quick,
                               demo_checkpoint=demo_checkpoint and _short(demo_checkpoint),
                               command=' '.join(['python tools/benchmark.py --suite photos',
                                                 f'--repeat {repeat}'] +
                                                ([f'--lama-repo {lama_repo}'] if lama_repo
                                                 else []) + (['--quick'] if quick else [])))
    try:
        if paper is None and not quick:
            print('writing the paper config\'s random-weights checkpoint (seed 0) ...',
                  flush=True)
            paper = random_checkpoint(folder)
        models = _models(demo_checkpoint, paper)
        written = []
        for name, h, w, frac in cases:
            img, mask = write_photo_case(folder, name, h, w, frac, seed)
            written.append((name, img, mask, frac))
        if cli and models:
            print(f'\npart 1: tools/inpaint.py, one child process per run (precision auto: '
                  f'{info["auto_precision"][0]}); wall time and peak RSS of the child')
            out['cli'] = cli_benchmark(folder, written, models, extra_args=extra_args,
                                       extra_kwargs=extra_kwargs)
            out['targets'] = targets_text(out['cli'], cases[0][0])
            for line in out['targets']:
                print(line)
        if side and models:
            builder, message = load_lama(lama_repo)
            out['lama'] = message or f'LaMa from {lama_repo}'
            print(f'\npart 2: side by side in one process, fp32, {torch.get_num_threads()} '
                  f'threads, median of {repeat} rounds after a warm-up, interleaved')
            if message:
                print(message)
            lama = builder() if builder else None
            if lama is not None:
                print(f'LaMa big-lama generator: '
                      f'{sum(p.numel() for p in lama.parameters()) / 1e6:.1f} M parameters')
            from PIL import Image
            photos = [(f'{name} {np.asarray(Image.open(img)).shape[1]}x'
                       f'{np.asarray(Image.open(img)).shape[0]} ({100 * frac:g}% hole)',
                       np.asarray(Image.open(img).convert('RGB')),
                       (np.asarray(Image.open(mask)) > 127).astype(np.float32))
                      for name, img, mask, frac in written]
            whole = []
            for name, side_px, frac in alone:
                rgb = draw_photo(side_px, side_px, seed)
                whole.append((f'alone {side_px}x{side_px} ({100 * frac:g}% hole)', rgb,
                              box_and_strokes(side_px, side_px, frac, seed)))
            sair = []
            for key, label, config, ckpt in sorted(models, key=lambda m: m[0] != 'paper'):
                inf = SAIRInferencer(config, ckpt, device='cpu', precision='fp32',
                                     **(extra_kwargs or {}))
                inf.model
                n = sum(p.numel() for p in inf.model.parameters()) / 1e6
                sair.append((key, f'SAIR {key} ({n:.0f} M)', inf))
            out['side_by_side'] = side_by_side(repeat, photos, whole, sair, lama)
    finally:
        if temp:
            shutil.rmtree(folder, ignore_errors=True)
    out['machine']['load_average_after'] = list(os.getloadavg())
    if results:
        write_results(out, results)
    return out


def write_results(out: Dict[str, Any], folder: str, name: str = 'photos',
                  markdown: Optional[Callable[[Dict[str, Any]], str]] = None) -> None:
    """``folder/<name>.json`` (everything) and ``folder/<name>.md`` (the tables, by
    ``markdown``, default :func:`tables_markdown`)."""
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, f'{name}.json'), 'w') as f:
        json.dump(out, f, indent=1, default=str)
    with open(osp.join(folder, f'{name}.md'), 'w') as f:
        f.write((markdown or tables_markdown)(out))


def tables_markdown(out: Dict[str, Any]) -> str:
    """The suite's tables in Markdown."""
    m = out['machine']
    load = ' '.join(f'{v:.2f}' for v in m['load_average'])
    after = ' '.join(f'{v:.2f}' for v in m.get('load_average_after', []))
    lines = [f'Command: `{out.get("command", "")}` (the CLI rows\' commands are in the JSON).', '',
             f'CPU: {m["cpu"]} (avx512_bf16 {"yes" if m["avx512_bf16"] else "no"}, oneDNN bf16 '
             f'{"yes" if m["onednn_bf16"] else "no"}), {m["cores"]} cores, torch {m["torch"]}, '
             f'{m["threads"]} threads; load average {load} before, {after} after.', '']
    if out.get('cli'):
        lines += ['### tools/inpaint.py (one child process per run)', '',
                  '| model | photo | strategy | output | wall s | peak RSS MiB | result |',
                  '| --- | --- | --- | --- | ---: | ---: | --- |']
        for r in out['cli']:
            if r['format'] == 'breakdown':
                continue
            res = 'ok' if r['rc'] == 0 else f'exit {r["rc"]}: {r["last"]}'
            lines.append(f'| {r["model"]} | {r["case"]} | {r["strategy"]} | {r["format"]} | '
                         f'{r["wall_s"]:.2f} | {r["max_rss_mib"]:.0f} | {res.replace("|", "/")} |')
        lines += ['', '### Where the time goes (auto; seconds)', '',
                  '| model | photo | interpreter start | import torch | import toolbox | model '
                  'build | decode | inpaint | PNG encode | JPEG encode | total wall |',
                  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
        for r in out['cli']:
            b = r.get('breakdown')
            if r['format'] != 'breakdown' or not b:
                continue
            lines.append(f'| {r["model"]} | {r["case"]} | {r["startup"]:.2f} | '
                         f'{b["import_torch"]:.2f} | {b["import_toolbox"]:.2f} | '
                         f'{b["build"]:.2f} | {b["decode"]:.2f} | {b["inpaint"]:.2f} | '
                         f'{b["png"]:.2f} | {b["jpg"]:.2f} | {r["wall_s"]:.2f} |')
        lines += [''] + [f'- {t}' for t in out.get('targets', [])] + ['']
    if out.get('side_by_side'):
        lines += ['### Side by side in one process (fp32)', '', out.get('lama', ''), '',
                  '| case | method | seconds | / LaMa | peak MiB | regions |',
                  '| --- | --- | ---: | ---: | ---: | --- |']
        for r in out['side_by_side']:
            ratio = f'{r["ratio"]:.2f}x' if r['ratio'] is not None else '-'
            peak = f'{r["peak_mib"]:.0f}' if r['peak_mib'] is not None else '-'
            lines.append(f'| {r["case"]} | {r["method"]}, {r.get("how", "")} | '
                         f'{r["seconds"]:.3f} | {ratio} | {peak} | {", ".join(r["regions"])} |')
        lines.append('')
    return '\n'.join(lines) + '\n'
