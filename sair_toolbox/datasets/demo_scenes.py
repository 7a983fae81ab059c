"""Procedural landscape scenes with per-pixel labels: the embedded demo data.

Every class has its own colour *and* texture (a sky gradient, striped grass, wavy water, brick
walls, lined roofs, lit windows, dotted foliage...), and objects are composed (a roof sits on a
wall, a crown on a trunk), so what belongs in a hole can be inferred from the object around it --
the situation where semantic guidance helps inpainting.

Generation is offline and deterministic: image ``i`` of a split depends on ``(seed, split, i)``
only, and the PNG files are byte-identical across runs. :func:`ensure_demo_data` writes into a
temporary folder next to ``data_root`` and renames it into place, so two processes that start at
once both end up using one complete copy.

Layout written::

    data_root/
      meta.json                 generation parameters (checked on reuse)
      classes.txt               one class name per line, index = label
      train/images/00000.png    uint8 RGB, image_size x image_size
      train/labels/00000.png    palette PNG, pixel value = class index
      val/images/..., val/labels/...
"""
import errno
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, Tuple

import numpy as np
from PIL import Image

from sair_toolbox.utils.errors import DataError

#: Bump when the scene generator changes, so stale data is detected.
DEMO_VERSION = 1
#: Class names, index = label value.
DEMO_CLASSES = ('sky', 'cloud', 'sun', 'mountain', 'grass', 'water', 'wall', 'roof', 'window',
                'trunk', 'foliage')
#: Split names and the code mixed into each image's seed.
DEMO_SPLITS = {'train': 0, 'val': 1}
#: Display colours of the label PNG palette (not the image colours).
DEMO_PALETTE = ((110, 170, 240), (240, 240, 240), (250, 210, 40), (120, 100, 130),
                (70, 170, 60), (30, 70, 200), (200, 160, 110), (170, 40, 40), (250, 240, 130),
                (100, 60, 20), (20, 90, 30))

_C = {name: i for i, name in enumerate(DEMO_CLASSES)}


class _Canvas:
    """RGB float image + label map with textured painting helpers."""

    def __init__(self, size: int, rng: np.random.Generator):
        self.s = size
        self.rng = rng
        self.img = np.zeros((size, size, 3), np.float32)
        self.lab = np.zeros((size, size), np.uint8)
        self.yy, self.xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5

    def jitter(self, rgb, amount=10.0):
        return np.asarray(rgb, np.float32) + self.rng.normal(0, amount, 3).astype(np.float32)

    def paint(self, region: np.ndarray, cls: str, colour: np.ndarray) -> None:
        """``colour``: (3,) or (H, W, 3) array; only ``region`` pixels are written."""
        colour = np.broadcast_to(colour, self.img.shape)
        self.img[region] = colour[region]
        self.lab[region] = _C[cls]


def _uni(rng: np.random.Generator, low: float, high: float) -> float:
    """Uniform in ``[low, high]``; collapses to ``low`` when a tiny image makes ``high < low``."""
    return float(low + max(high - low, 0.0) * rng.random())


def _shade(base: np.ndarray, field: np.ndarray) -> np.ndarray:
    """base (3,) + scalar field (H, W) -> (H, W, 3)."""
    return base[None, None, :] + field[..., None]


def render_scene(size: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Render one scene.

    Args:
        size: image side in pixels (>= 16).
        rng: the only source of randomness.

    Returns:
        (uint8 (size, size, 3) RGB image, uint8 (size, size) label map indexing DEMO_CLASSES).
    """
    c = _Canvas(size, rng)
    s = float(size)
    yy, xx = c.yy, c.xx
    horizon = _uni(rng, 0.35, 0.6) * s

    # Sky: vertical gradient, darker blue at the top.
    top, bottom = c.jitter((45, 95, 200)), c.jitter((165, 205, 245))
    t = np.clip(yy / horizon, 0, 1)[..., None]
    c.paint(np.ones_like(c.lab, bool), 'sky', top * (1 - t) + bottom * t)

    # Sun: a yellow disc, brighter in the middle.
    if rng.random() < 0.7:
        r = _uni(rng, 0.06, 0.11) * s
        cy, cx = _uni(rng, r, max(horizon - r, r + 1)), _uni(rng, r, s - r)
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        c.paint(d < r, 'sun', _shade(c.jitter((245, 205, 50), 6), 30 * (1 - d / r)))

    # Mountains: triangles standing on the horizon, lit from the left.
    for _ in range(int(rng.integers(0, 3))):
        peak_x, half = _uni(rng, 0, s), _uni(rng, 0.15, 0.35) * s
        peak_y = horizon - _uni(rng, 0.15, 0.3) * s
        inside = (yy >= peak_y + np.abs(xx - peak_x) * (horizon - peak_y) / half) & (yy < horizon)
        light = np.where(xx < peak_x, 18.0, -12.0).astype(np.float32)
        c.paint(inside, 'mountain', _shade(c.jitter((120, 105, 135), 8), light))

    # Clouds: unions of ellipses, white with a grey underside.
    for _ in range(int(rng.integers(0, 3))):
        cy, cx = _uni(rng, 0.05, 0.3) * s, _uni(rng, 0, s)
        blob = np.zeros_like(c.lab, bool)
        for _ in range(3):
            ey, ex = cy + _uni(rng, -0.03, 0.03) * s, cx + _uni(rng, -0.1, 0.1) * s
            ry, rx = _uni(rng, 0.03, 0.06) * s, _uni(rng, 0.07, 0.13) * s
            blob |= ((yy - ey) / ry) ** 2 + ((xx - ex) / rx) ** 2 < 1
        c.paint(blob, 'cloud', _shade(c.jitter((240, 240, 245), 4),
                                      -25 * np.clip((yy - cy) / (0.06 * s), 0, 1)))

    # Ground: striped grass, possibly a lake or a sea of waves.
    ground = yy >= horizon
    stripes = 22.0 * (((xx + yy) // 3) % 2) - 11.0
    c.paint(ground, 'grass', _shade(c.jitter((70, 150, 55)), stripes))
    kind = rng.random()
    waves = 28.0 * np.sin(2 * np.pi * (xx / 9.0 + 0.35 * np.sin(yy / 2.5))).astype(np.float32)
    if kind < 0.35:  # a lake
        ly, lx = _uni(rng, horizon + 0.1 * s, s), _uni(rng, 0, s)
        ry, rx = _uni(rng, 0.08, 0.18) * s, _uni(rng, 0.2, 0.4) * s
        lake = ground & (((yy - ly) / ry) ** 2 + ((xx - lx) / rx) ** 2 < 1)
        c.paint(lake, 'water', _shade(c.jitter((35, 80, 175)), waves))
    elif kind < 0.6:  # the sea in front of a shore line
        shore = horizon + _uni(rng, 0.0, 0.15) * s
        c.paint(yy >= shore + 0.05 * s * np.sin(xx / (0.2 * s)), 'water',
                _shade(c.jitter((35, 80, 175)), waves))

    # Houses and trees, painted back to front (larger y = nearer = later).
    objects = [('house', _uni(rng, horizon + 0.05 * s, s)) for _ in range(int(rng.integers(0, 3)))]
    objects += [('tree', _uni(rng, horizon + 0.05 * s, s)) for _ in range(int(rng.integers(0, 4)))]
    objects.sort(key=lambda o: o[1])
    for kind, base_y in objects:
        x_anchor = _uni(rng, 0, s)
        if c.lab[min(int(base_y), size - 1), min(int(x_anchor), size - 1)] == _C['water']:
            continue  # houses and trees stand on grass
        scale = 0.6 + 0.6 * (base_y - horizon) / max(s - horizon, 1)
        if kind == 'house':
            w, h = _uni(rng, 0.18, 0.3) * s * scale, _uni(rng, 0.12, 0.2) * s * scale
            x0 = x_anchor - w / 2
            wall = (xx >= x0) & (xx < x0 + w) & (yy >= base_y - h) & (yy < base_y)
            bricks = np.where((yy.astype(np.int32) % 4 == 0)
                              | (((xx.astype(np.int32) + 3 * ((yy.astype(np.int32) // 4) % 2))
                                  % 6) == 0), -40.0, 0.0).astype(np.float32)
            c.paint(wall, 'wall', _shade(c.jitter((205, 165, 115)), bricks))
            roof_h = _uni(rng, 0.5, 0.8) * h
            ry0 = base_y - h
            half_width = (0.6 * w) * (yy - (ry0 - roof_h)) / roof_h  # widens downwards
            roof = (yy < ry0) & (yy >= ry0 - roof_h) & (np.abs(xx - (x0 + w / 2)) <= half_width)
            lines = np.where(yy.astype(np.int32) % 3 == 0, -35.0, 0.0).astype(np.float32)
            c.paint(roof, 'roof', _shade(c.jitter((175, 55, 40)), lines))
            for _ in range(int(rng.integers(1, 3))):
                ws = max(_uni(rng, 0.2, 0.3) * min(w, h), 2.0)
                wx, wy = _uni(rng, x0 + 0.1 * w, x0 + 0.9 * w - ws), _uni(rng, ry0 + 0.15 * h,
                                                                                   base_y - ws - 1)
                win = wall & (xx >= wx) & (xx < wx + ws) & (yy >= wy) & (yy < wy + ws)
                glow = 25 * (1 - np.abs(xx - (wx + ws / 2)) / ws).astype(np.float32)
                c.paint(win, 'window', _shade(c.jitter((250, 235, 140), 5), glow))
        else:
            th, tw = _uni(rng, 0.08, 0.15) * s * scale, _uni(rng, 0.03, 0.05) * s * scale
            tx = x_anchor
            trunk = (np.abs(xx - tx) < max(tw / 2, 1.0)) & (yy >= base_y - th) & (yy < base_y)
            bark = np.where(xx.astype(np.int32) % 2 == 0, -20.0, 10.0).astype(np.float32)
            c.paint(trunk, 'trunk', _shade(c.jitter((115, 75, 35)), bark))
            cr = _uni(rng, 0.08, 0.14) * s * scale
            cy = base_y - th - 0.7 * cr
            d2 = ((yy - cy) / (1.15 * cr)) ** 2 + ((xx - tx) / cr) ** 2
            dots = np.where((xx.astype(np.int32) * 7 + yy.astype(np.int32) * 3) % 5 == 0,
                            45.0, 0.0).astype(np.float32)
            c.paint(d2 < 1, 'foliage', _shade(c.jitter((30, 95, 40)), dots))

    noise = rng.normal(0, 3.0, c.img.shape).astype(np.float32)
    img = np.clip(np.rint(c.img + noise), 0, 255).astype(np.uint8)
    return img, c.lab.copy()


def _palette_image(labels: np.ndarray) -> Image.Image:
    im = Image.fromarray(labels)  # mode L; putpalette turns it into P with the same indices
    flat = [v for rgb in DEMO_PALETTE for v in rgb]
    im.putpalette(flat + [0] * (768 - len(flat)))
    return im


def _meta(image_size: int, num_train: int, num_val: int, seed: int) -> Dict:
    return dict(version=DEMO_VERSION, image_size=int(image_size),
                splits=dict(train=int(num_train), val=int(num_val)), seed=int(seed),
                classes=list(DEMO_CLASSES))


def write_demo_data(out_dir: str, image_size: int = 64, num_train: int = 400,
                    num_val: int = 40, seed: int = 0) -> None:
    """Write the demo data set into ``out_dir`` (which must be empty or absent), non-atomically."""
    if image_size < 16:
        raise DataError(f'demo image_size must be >= 16, got {image_size}')
    meta = _meta(image_size, num_train, num_val, seed)
    for split, count in meta['splits'].items():
        img_dir = osp.join(out_dir, split, 'images')
        lab_dir = osp.join(out_dir, split, 'labels')
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(lab_dir, exist_ok=True)
        for i in range(count):
            rng = np.random.default_rng(np.random.SeedSequence([seed, DEMO_SPLITS[split], i]))
            img, lab = render_scene(image_size, rng)
            Image.fromarray(img).save(osp.join(img_dir, f'{i:05d}.png'), optimize=False)
            _palette_image(lab).save(osp.join(lab_dir, f'{i:05d}.png'), optimize=False)
    with open(osp.join(out_dir, 'classes.txt'), 'w', encoding='utf-8') as f:
        f.writelines(f'{name}\n' for name in DEMO_CLASSES)
    # meta.json last: its presence marks a complete data set.
    with open(osp.join(out_dir, 'meta.json'), 'w', encoding='utf-8') as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write('\n')


def check_demo_data(data_root: str, image_size: int, num_train: int, num_val: int,
                    seed: int) -> bool:
    """True if ``data_root`` holds demo data made with these parameters; False if it holds
    nothing; :class:`DataError` if it holds something else."""
    return check_meta(data_root, _meta(image_size, num_train, num_val, seed), 'demo')


def check_meta(data_root: str, wanted: Dict, what: str) -> bool:
    """True if ``data_root``'s ``meta.json`` is ``wanted``; False if the folder is absent or
    empty; one :class:`DataError` line if it holds no ``meta.json`` (``what`` names the data in
    that message) or another one (the settings that differ)."""
    meta_path = osp.join(data_root, 'meta.json')
    if not osp.exists(data_root) or (osp.isdir(data_root) and not os.listdir(data_root)):
        return False
    if not osp.isfile(meta_path):
        raise DataError(f'{what} data_root {data_root} exists but holds no demo data (no '
                        'meta.json); remove it or choose another data_root')
    with open(meta_path, encoding='utf-8') as f:
        found = json.load(f)
    if found != wanted:
        diff = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
        raise DataError(f'demo data in {data_root} was generated with other settings '
                        f'(found vs wanted: {diff}); delete the folder to regenerate or use '
                        'another data_root')
    return True


def ensure_demo_data(data_root: str, image_size: int = 64, num_train: int = 400,
                     num_val: int = 40, seed: int = 0) -> bool:
    """Generate the demo data into ``data_root`` unless it is already there.

    Safe when several processes call it at once: each writes a private temporary folder and
    renames it into place; the losers of the race discard theirs.

    Returns:
        bool: True if this call generated the data.
    """
    if check_demo_data(data_root, image_size, num_train, num_val, seed):
        return False
    if publish_folder(data_root, lambda tmp: write_demo_data(tmp, image_size, num_train,
                                                              num_val, seed)):
        return True
    if not check_demo_data(data_root, image_size, num_train, num_val, seed):
        raise DataError(f'could not create demo data in {data_root}')
    return False


def publish_folder(data_root: str, write) -> bool:
    """Write a folder atomically: ``write(tmp)`` fills a private temporary folder next to
    ``data_root``, which is then renamed into place (atomic; it replaces an empty folder). Safe
    when several processes race: the losers discard theirs.

    Returns:
        bool: True if this call's folder became ``data_root``; False if another process got
        there first (the caller checks what is there).
    """
    parent = osp.dirname(osp.abspath(data_root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.' + osp.basename(osp.abspath(data_root)) + '.tmp', dir=parent)
    try:
        write(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
        try:
            os.rename(tmp, data_root)
            return True
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return False
