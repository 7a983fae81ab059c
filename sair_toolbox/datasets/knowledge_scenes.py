"""The knowledge-gap demo world: many object categories told apart by structure, not colour.

In the default demo world (:mod:`demo_scenes`) every class is a colour and a local texture, so an
inpainter learns all of it from a few dozen scenes. Here (issue 25) scenes hold objects of
``num_categories`` (default 60) categories, and what a category looks like is *knowledge*:

* **Structure is category-specific.** Category ``c`` has a fixed spec (:func:`category_specs`,
  drawn from ``SeedSequence([_TAG, _SPEC_CODE, c])``, the same for every data seed): an aspect
  ratio, a silhouette (a superellipse of exponent 1, 2 or 4 whose radius is modulated by a few
  angular harmonics), 1 to 3 parts (disc / square / bar) at fixed positions in the object's box
  (optionally a mirrored pair, like eyes), and an inner pattern of the body (none, stripes at one
  of four angles, rings, checks or a grid of dots, at a category-specific frequency relative to
  the object's size, so the pixel period varies with the object's size).
* **Colour is not.** Every object draws its body colour and one part colour uniformly from
  :data:`OBJECT_COLOURS`, a palette shared by all categories (the pattern is the body colour
  darkened); per-object brightness jitter and pixel noise on top. A per-pixel colour classifier
  therefore cannot tell categories apart (tests/test_datasets/test_knowledge_scenes.py measures
  it), while the part layout and the silhouette do.
* **Stuff**: a sky gradient above a horizon and striped ground below, in colours of their own.

Labels: ``0`` sky, ``1`` ground, ``2 + c`` category ``c`` (:func:`knowledge_classes`: the two
stuff names then one generated, pronounceable, unique name per category, for the demo CLIP's text
side). A second map, the part map, marks :data:`PART_NAMES` (stuff, body, pattern, part 1..3).

The split (:func:`seen_categories`): ``num_seen`` of the categories, chosen by ``seed``, are
*seen*. Purposes:

* ``train``: the inpainter's scenes; only seen categories.
* ``val``: even images hold seen categories only, odd images unseen ones only (``group`` in
  ``val/objects.json`` and ``category_group`` in the dataset's samples), so per-image metrics
  split cleanly; per-object records tell each object's category and whether it is seen.
* ``encoder``: scenes for pretraining the demo encoders; all categories, ``num_encoder`` scenes,
  rendered on demand (:func:`render_purpose_scenes`) or cached lazily in deterministic
  compressed chunks of ``encoder_chunk`` scenes (:class:`KnowledgeEncoderScenes`).

Scene ``i`` of a purpose depends on ``(seed, purpose, i)`` only, through
``SeedSequence([seed, _TAG, purpose code, i])``. The layout (object boxes, colours, stuff) is drawn
in image fractions before any pixel is touched and the pixel noise comes from a child stream, so
the same scene renders at 64 or 256 px with the same layout. Files are byte-identical across runs.

Layout written by :func:`ensure_knowledge_data`::

    data_root/
      meta.json                 generation parameters, version and split (checked on reuse)
      classes.txt               one class name per line, index = label
      categories.json           per category: name, label, seen, spec
      train/images/00000.png    uint8 RGB
      train/labels/00000.png    palette PNG, pixel value = class index
      train/parts/00000.png     L PNG, pixel value = index in PART_NAMES
      train/objects.json        per image: group and objects (category, label, name, seen, box)
      val/...
      encoder/chunk_00000.npz   written on first use: images, labels, parts, objects (json)
"""
import io
import json
import os
import os.path as osp
import tempfile
import zipfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from sair_toolbox.utils.errors import DataError

#: Bump when the generator changes, so stale data is detected.
KNOWLEDGE_VERSION = 1
#: The world's name in ``meta.json`` (the default world's meta has no ``world`` key).
KNOWLEDGE_WORLD = 'knowledge'
#: Stuff classes, labels 0 and 1; category ``c`` has label ``NUM_STUFF + c``.
STUFF_CLASSES = ('sky', 'ground')
NUM_STUFF = len(STUFF_CLASSES)
#: Purposes and the code mixed into each scene's seed.
KNOWLEDGE_PURPOSES = {'train': 0, 'val': 1, 'encoder': 2}
#: Part map values.
PART_NAMES = ('stuff', 'body', 'pattern', 'part1', 'part2', 'part3')
#: Object colours, shared by every category (the colour says nothing about the category).
OBJECT_COLOURS = ((205, 45, 45), (235, 135, 35), (230, 210, 45), (60, 165, 65), (40, 165, 165),
                  (45, 75, 205), (135, 65, 195), (225, 95, 175), (125, 85, 45), (235, 235, 235),
                  (55, 55, 60))
#: Defaults of the split.
DEFAULT_NUM_CATEGORIES = 60
DEFAULT_NUM_SEEN = 25
DEFAULT_NUM_ENCODER = 2000
DEFAULT_ENCODER_CHUNK = 250
#: Smallest number of categories the world is meant for (issue 25: at least 50).
MIN_CATEGORIES = 50
#: Specs exist for this many categories at most (names must stay unique and pronounceable).
MAX_CATEGORIES = 500

_TAG = 0x4B57  # 'KW': keeps the world's streams apart from the default world's [seed, split, i]
_SPEC_CODE = 7
_NAME_CODE = 8
_SEEN_CODE = 9
_CONSONANTS = 'bdfgklmnprstvz'
_VOWELS = 'aeiou'
_PATTERNS = ('none', 'stripes', 'rings', 'checks', 'dots')
_PART_SHAPES = ('disc', 'square', 'bar')


# ----------------------------------------------------------------------------- categories
def _category_name(c: int, taken: set) -> str:
    rng = np.random.default_rng(np.random.SeedSequence([_TAG, _NAME_CODE, c]))
    while True:
        n = 2 if rng.random() < 0.6 else 3
        name = ''.join(_CONSONANTS[rng.integers(len(_CONSONANTS))] + _VOWELS[rng.integers(5)]
                       for _ in range(n))
        if rng.random() < 0.3:
            name += 'nrsl'[rng.integers(4)]
        if name not in taken and name not in STUFF_CLASSES:
            return name


def category_names(num_categories: int = DEFAULT_NUM_CATEGORIES) -> Tuple[str, ...]:
    """Generated, pronounceable, unique names (consonant-vowel syllables); name ``c`` does not
    depend on ``num_categories``."""
    _check_num_categories(num_categories)
    taken: List[str] = []
    for c in range(num_categories):
        taken.append(_category_name(c, set(taken)))
    return tuple(taken)


def knowledge_classes(num_categories: int = DEFAULT_NUM_CATEGORIES) -> Tuple[str, ...]:
    """Class names, index = label: the stuff classes, then the categories."""
    return STUFF_CLASSES + category_names(num_categories)


def knowledge_palette(num_categories: int = DEFAULT_NUM_CATEGORIES) -> Tuple[Tuple[int, ...], ...]:
    """Display colours of the label PNG palette (not image colours): stuff, then a hue wheel."""
    out = [(110, 170, 240), (150, 130, 90)]
    for c in range(num_categories):
        h = (c * 0.618034) % 1.0
        v = 0.95 if c % 2 == 0 else 0.7
        i, f = int(h * 6), h * 6 - int(h * 6)
        p, q, t = v * 0.35, v * (1 - 0.65 * f), v * (1 - 0.65 * (1 - f))
        rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i % 6]
        out.append(tuple(int(round(255 * x)) for x in rgb))
    return tuple(out)


def _check_num_categories(num_categories: int) -> None:
    if not 1 <= int(num_categories) <= MAX_CATEGORIES:
        raise DataError(f'knowledge world: num_categories must be in [1, {MAX_CATEGORIES}], '
                        f'got {num_categories}')


def _category_spec(c: int) -> Dict:
    rng = np.random.default_rng(np.random.SeedSequence([_TAG, _SPEC_CODE, c]))
    aspect = float(np.exp(rng.uniform(np.log(0.6), np.log(1.7))))  # height / width
    exponent = float((1.0, 2.0, 4.0)[rng.integers(3)])
    harmonics = []
    for k in range(2, 6):
        if rng.random() < 0.5:
            harmonics.append((k, float(rng.uniform(0.05, 0.22)), float(rng.uniform(0, 2 * np.pi))))
    spec = dict(aspect=aspect, exponent=exponent, harmonics=harmonics)
    # Normalise the silhouette's radius so its maximum is 1 (the object fills its box).
    theta = np.linspace(-np.pi, np.pi, 721)
    spec['radius_scale'] = 1.0 / float(_radius(spec, theta).max())
    parts = []
    n_parts = int(rng.integers(1, 4))
    mirrored = n_parts >= 2 and rng.random() < 0.5
    while len(parts) < n_parts:
        size = float(rng.uniform(0.14, 0.28))
        shape = _PART_SHAPES[rng.integers(len(_PART_SHAPES))]
        for _ in range(200):  # a centre well inside the silhouette
            u, v = rng.uniform(-0.75, 0.75, 2)
            if _rho(spec, u, v) <= 0.6 * _radius(spec, np.arctan2(v, u)):
                break
        part = dict(u=float(u), v=float(v), size=size, shape=shape)
        if mirrored and len(parts) == 0 and abs(u) > size + 0.05:
            parts.append(part)
            parts.append(dict(part, u=-float(u)))
        else:
            parts.append(part)
    spec['parts'] = parts[:3]
    kind = _PATTERNS[rng.integers(len(_PATTERNS))]
    spec['pattern'] = dict(kind=kind, angle=float(rng.integers(4) * np.pi / 4),
                           freq=float(rng.choice([0.9, 1.3, 1.8])))
    return spec


def _radius(spec: Dict, theta) -> np.ndarray:
    r = np.ones_like(np.asarray(theta, np.float64))
    for k, amp, phase in spec['harmonics']:
        r = r + amp * np.cos(k * theta + phase)
    return r * spec.get('radius_scale', 1.0)


def _rho(spec: Dict, u, v):
    p = spec['exponent']
    return (np.abs(u) ** p + np.abs(v) ** p) ** (1.0 / p)


def category_specs(num_categories: int = DEFAULT_NUM_CATEGORIES) -> Tuple[Dict, ...]:
    """The structure of each category (silhouette, parts, pattern); fixed by the version."""
    _check_num_categories(num_categories)
    return tuple(_category_spec(c) for c in range(num_categories))


def seen_categories(num_categories: int = DEFAULT_NUM_CATEGORIES, num_seen: int = DEFAULT_NUM_SEEN,
                    seed: int = 0) -> Tuple[int, ...]:
    """The categories (0-based, sorted) the inpainter's scenes show; chosen by ``seed``."""
    _check_num_categories(num_categories)
    if not 1 <= int(num_seen) <= int(num_categories):
        raise DataError(f'knowledge world: num_seen must be in [1, num_categories='
                        f'{num_categories}], got {num_seen}')
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _TAG, _SEEN_CODE]))
    return tuple(sorted(int(c) for c in rng.permutation(int(num_categories))[:int(num_seen)]))


# ----------------------------------------------------------------------------- scenes
def _purpose_rngs(seed: int, purpose: str, index: int):
    if purpose not in KNOWLEDGE_PURPOSES:
        raise DataError(f'knowledge world: purpose must be one of {sorted(KNOWLEDGE_PURPOSES)}, '
                        f'got {purpose!r}')
    ss = np.random.SeedSequence([int(seed), _TAG, KNOWLEDGE_PURPOSES[purpose], int(index)])
    layout_ss, noise_ss = ss.spawn(2)
    return np.random.default_rng(layout_ss), np.random.default_rng(noise_ss)


def scene_categories(purpose: str, index: int, seen: Sequence[int],
                     num_categories: int) -> Tuple[str, Tuple[int, ...]]:
    """``(group, categories an object of this scene may have)``: train -> seen; val -> seen for
    even ``index``, unseen for odd (seen where there are no unseen); encoder -> all."""
    seen = tuple(seen)
    if purpose == 'train':
        return 'seen', seen
    if purpose == 'encoder':
        return 'all', tuple(range(num_categories))
    unseen = tuple(c for c in range(num_categories) if c not in set(seen))
    if index % 2 == 1 and unseen:
        return 'unseen', unseen
    return 'seen', seen


def sample_layout(rng: np.random.Generator, allowed: Sequence[int],
                  specs: Sequence[Dict]) -> Dict:
    """Draw a scene's layout in image fractions (independent of the resolution)."""
    layout = dict(horizon=float(rng.uniform(0.3, 0.55)),
                  sky_top=rng.normal(0, 8, 3).tolist(), sky_bottom=rng.normal(0, 8, 3).tolist(),
                  ground=rng.normal(0, 8, 3).tolist(), objects=[])
    target = int(rng.integers(2, 5))
    boxes = []
    for _ in range(30):
        if len(layout['objects']) >= target:
            break
        c = int(allowed[rng.integers(len(allowed))])
        w = float(rng.uniform(0.22, 0.36))
        h = w * specs[c]['aspect'] * float(rng.uniform(0.92, 1.08))
        if h > 0.5:
            w, h = w * 0.5 / h, 0.5
        x0, y0 = float(rng.uniform(0.02, 0.98 - w)), float(rng.uniform(0.02, 0.98 - h))
        box = (x0, y0, x0 + w, y0 + h)
        colour_draws = rng.integers(len(OBJECT_COLOURS), size=2)
        bright = float(rng.normal(0, 10))
        if any(box[0] < b[2] + 0.02 and b[0] < box[2] + 0.02 and box[1] < b[3] + 0.02
               and b[1] < box[3] + 0.02 for b in boxes):
            continue  # boxes do not overlap: every object is seen whole
        body = int(colour_draws[0])
        part = int((body + 1 + colour_draws[1] % (len(OBJECT_COLOURS) - 1)) % len(OBJECT_COLOURS))
        boxes.append(box)
        layout['objects'].append(dict(category=c, box=list(box), body_colour=body,
                                      part_colour=part, brightness=bright))
    return layout


def _pattern(kind: str, angle: float, freq: float, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if kind == 'stripes':
        t = u * np.cos(angle) + v * np.sin(angle)
        return np.floor(t * freq * 2) % 2 == 0
    if kind == 'rings':
        return np.floor(np.sqrt(u ** 2 + v ** 2) * freq * 2.5) % 2 == 1
    if kind == 'checks':
        return (np.floor(u * freq * 1.5) + np.floor(v * freq * 1.5)) % 2 == 0
    if kind == 'dots':
        gu, gv = u * freq * 1.5, v * freq * 1.5
        return (gu - np.round(gu)) ** 2 + (gv - np.round(gv)) ** 2 < 0.09
    return np.zeros(u.shape, bool)


def render_layout(layout: Dict, size: int, specs: Sequence[Dict],
                  noise_rng: Optional[np.random.Generator] = None
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rasterise a layout at ``size`` px (pixel centres sampled, no anti-aliasing).

    Returns:
        (uint8 (S, S, 3) RGB, uint8 (S, S) labels, uint8 (S, S) part map).
    """
    s = int(size)
    centres = (np.arange(s, dtype=np.float64) + 0.5) / s
    yy = centres[:, None] * np.ones((1, s))
    img = np.zeros((s, s, 3), np.float32)
    lab = np.zeros((s, s), np.uint8)
    parts = np.zeros((s, s), np.uint8)
    hz = layout['horizon']
    t = np.clip(yy / hz, 0, 1)[..., None]
    top = np.array((120, 160, 215), np.float32) + np.asarray(layout['sky_top'], np.float32)
    bottom = np.array((205, 220, 235), np.float32) + np.asarray(layout['sky_bottom'], np.float32)
    img[:] = top * (1 - t) + bottom * t
    ground = yy >= hz
    stripes = np.where(np.floor((yy - hz) * 24) % 2 == 0, 8.0, -8.0)
    ground_rgb = np.array((160, 145, 110), np.float32) + np.asarray(layout['ground'], np.float32)
    img[ground] = (ground_rgb[None, None] + stripes[..., None])[ground]
    lab[ground] = 1
    for obj in layout['objects']:
        spec = specs[obj['category']]
        x0, y0, x1, y1 = obj['box']
        c0, c1 = int(np.floor(x0 * s)), min(int(np.ceil(x1 * s)) + 1, s)
        r0, r1 = int(np.floor(y0 * s)), min(int(np.ceil(y1 * s)) + 1, s)
        ux, vy = centres[c0:c1], centres[r0:r1]
        u = (2 * (ux[None, :] - x0) / (x1 - x0) - 1) * np.ones((len(vy), 1))
        v = (2 * (vy[:, None] - y0) / (y1 - y0) - 1) * np.ones((1, len(ux)))
        inside = _rho(spec, u, v) <= _radius(spec, np.arctan2(v, u))
        inside &= (np.abs(u) <= 1) & (np.abs(v) <= 1)
        pat = inside & _pattern(u=u, v=v, **spec['pattern'])
        part_map = np.where(inside, np.where(pat, 2, 1), 0).astype(np.uint8)
        for k, part in enumerate(spec['parts']):
            du, dv, r = u - part['u'], v - part['v'], part['size']
            if part['shape'] == 'disc':
                hit = du ** 2 + dv ** 2 <= r ** 2
            elif part['shape'] == 'square':
                hit = (np.abs(du) <= r * 0.9) & (np.abs(dv) <= r * 0.9)
            else:
                hit = (np.abs(du) <= r * 1.4) & (np.abs(dv) <= r * 0.45)
            part_map[inside & hit] = 3 + k
        body = np.array(OBJECT_COLOURS[obj['body_colour']], np.float32) + obj['brightness']
        part_rgb = np.array(OBJECT_COLOURS[obj['part_colour']], np.float32) + obj['brightness']
        colours = np.stack([np.zeros(3, np.float32), body, body * 0.62 + 20] + [part_rgb] * 3)
        sub_img, sub_lab, sub_parts = img[r0:r1, c0:c1], lab[r0:r1, c0:c1], parts[r0:r1, c0:c1]
        sub_img[inside] = colours[part_map[inside]]
        sub_lab[inside] = NUM_STUFF + obj['category']
        sub_parts[inside] = part_map[inside]
    if noise_rng is not None:
        img = img + noise_rng.normal(0, 3.0, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), lab, parts


def render_knowledge_scene(size: int, seed: int, purpose: str, index: int,
                           seen: Sequence[int], num_categories: int = DEFAULT_NUM_CATEGORIES,
                           specs: Optional[Sequence[Dict]] = None
                           ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Dict]:
    """Scene ``index`` of ``purpose``: depends on ``(seed, purpose, index)`` and the split only.

    Returns:
        (RGB, labels, part map, record) with record = ``dict(group, objects=[dict(category,
        label, seen, box, body_colour, part_colour)])``, boxes in image fractions.
    """
    if int(size) < 16:
        raise DataError(f'knowledge world: image_size must be >= 16, got {size}')
    specs = category_specs(num_categories) if specs is None else specs
    layout_rng, noise_rng = _purpose_rngs(seed, purpose, index)
    group, allowed = scene_categories(purpose, index, seen, num_categories)
    layout = sample_layout(layout_rng, allowed, specs)
    img, lab, parts = render_layout(layout, size, specs, noise_rng)
    seen_set = set(seen)
    objects = [dict(category=o['category'], label=NUM_STUFF + o['category'],
                    seen=o['category'] in seen_set, box=[round(b, 6) for b in o['box']],
                    body_colour=o['body_colour'], part_colour=o['part_colour'])
               for o in layout['objects']]
    return img, lab, parts, dict(group=group, objects=objects)


def render_purpose_scenes(start: int, stop: int, image_size: int = 64, seed: int = 0,
                          purpose: str = 'encoder', num_categories: int = DEFAULT_NUM_CATEGORIES,
                          num_seen: int = DEFAULT_NUM_SEEN) -> Dict:
    """Scenes ``start <= i < stop`` of a purpose, streamed (nothing written).

    Returns:
        dict(images (N, S, S, 3) uint8, labels (N, S, S) uint8, parts (N, S, S) uint8,
        records: list of per-scene records).
    """
    seen = seen_categories(num_categories, num_seen, seed)
    specs = category_specs(num_categories)
    imgs, labs, parts, records = [], [], [], []
    for i in range(int(start), int(stop)):
        img, lab, part, rec = render_knowledge_scene(image_size, seed, purpose, i, seen,
                                                     num_categories, specs)
        imgs.append(img)
        labs.append(lab)
        parts.append(part)
        records.append(rec)
    s = int(image_size)
    empty = np.zeros((0, s, s), np.uint8)
    return dict(images=np.stack(imgs) if imgs else np.zeros((0, s, s, 3), np.uint8),
                labels=np.stack(labs) if labs else empty,
                parts=np.stack(parts) if parts else empty, records=records)


# ----------------------------------------------------------------------------- cache
def knowledge_meta(image_size: int = 64, num_train: int = 400, num_val: int = 120, seed: int = 0,
                   num_categories: int = DEFAULT_NUM_CATEGORIES, num_seen: int = DEFAULT_NUM_SEEN,
                   num_encoder: int = DEFAULT_NUM_ENCODER,
                   encoder_chunk: int = DEFAULT_ENCODER_CHUNK) -> Dict:
    """The ``meta.json`` of these generation parameters (the split included)."""
    return dict(world=KNOWLEDGE_WORLD, version=KNOWLEDGE_VERSION, image_size=int(image_size),
                splits=dict(train=int(num_train), val=int(num_val), encoder=int(num_encoder)),
                seed=int(seed), num_categories=int(num_categories), num_seen=int(num_seen),
                seen=list(seen_categories(num_categories, num_seen, seed)),
                encoder_chunk=int(encoder_chunk), classes=list(knowledge_classes(num_categories)))


def _palette_image(labels: np.ndarray, palette) -> Image.Image:
    im = Image.fromarray(labels)
    flat = [v for rgb in palette for v in rgb]
    im.putpalette(flat + [0] * (768 - len(flat)))
    return im


def _check_args(image_size, num_train, num_val, num_categories, num_encoder, encoder_chunk):
    if int(image_size) < 16:
        raise DataError(f'knowledge world: image_size must be >= 16, got {image_size}')
    if int(num_categories) < MIN_CATEGORIES:
        raise DataError(f'knowledge world: num_categories must be >= {MIN_CATEGORIES} '
                        f'(issue 25), got {num_categories}')
    if min(int(num_train), int(num_val), int(num_encoder)) < 0 or int(encoder_chunk) < 1:
        raise DataError('knowledge world: scene counts must be >= 0 and encoder_chunk >= 1')


def write_knowledge_data(out_dir: str, image_size: int = 64, num_train: int = 400,
                         num_val: int = 120, seed: int = 0,
                         num_categories: int = DEFAULT_NUM_CATEGORIES,
                         num_seen: int = DEFAULT_NUM_SEEN, num_encoder: int = DEFAULT_NUM_ENCODER,
                         encoder_chunk: int = DEFAULT_ENCODER_CHUNK) -> None:
    """Write train and val (not the encoder chunks) into ``out_dir``, non-atomically."""
    _check_args(image_size, num_train, num_val, num_categories, num_encoder, encoder_chunk)
    meta = knowledge_meta(image_size, num_train, num_val, seed, num_categories, num_seen,
                          num_encoder, encoder_chunk)
    seen, specs = meta['seen'], category_specs(num_categories)
    palette = knowledge_palette(num_categories)
    for split in ('train', 'val'):
        dirs = {k: osp.join(out_dir, split, k) for k in ('images', 'labels', 'parts')}
        for d in dirs.values():
            os.makedirs(d, exist_ok=True)
        records = []
        for i in range(meta['splits'][split]):
            img, lab, parts, rec = render_knowledge_scene(image_size, seed, split, i, seen,
                                                          num_categories, specs)
            name = f'{i:05d}.png'
            Image.fromarray(img).save(osp.join(dirs['images'], name), optimize=False)
            _palette_image(lab, palette).save(osp.join(dirs['labels'], name), optimize=False)
            Image.fromarray(parts).save(osp.join(dirs['parts'], name), optimize=False)
            records.append(rec)
        _write_json(osp.join(out_dir, split, 'objects.json'), records)
    os.makedirs(osp.join(out_dir, 'encoder'), exist_ok=True)
    with open(osp.join(out_dir, 'classes.txt'), 'w', encoding='utf-8') as f:
        f.writelines(f'{name}\n' for name in meta['classes'])
    names = category_names(num_categories)
    _write_json(osp.join(out_dir, 'categories.json'),
                [dict(category=c, label=NUM_STUFF + c, name=names[c], seen=c in set(seen),
                      spec=specs[c]) for c in range(num_categories)])
    _write_json(osp.join(out_dir, 'meta.json'), meta)  # last: marks a complete data set


def _write_json(path: str, obj) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write('\n')


def check_knowledge_data(data_root: str, **gen_args) -> bool:
    """True if ``data_root`` holds knowledge-world data made with these parameters (see
    :func:`knowledge_meta`); False if it holds nothing; :class:`DataError` otherwise (other
    settings, another version, the default world, or a foreign folder)."""
    from .demo_scenes import check_meta
    return check_meta(data_root, knowledge_meta(**gen_args), 'knowledge demo')


def ensure_knowledge_data(data_root: str, **gen_args) -> bool:
    """Generate train and val into ``data_root`` unless already there (atomic, as
    :func:`~sair_toolbox.datasets.demo_scenes.ensure_demo_data`). Returns True if generated."""
    if check_knowledge_data(data_root, **gen_args):
        return False
    from .demo_scenes import publish_folder
    if publish_folder(data_root, lambda tmp: write_knowledge_data(tmp, **gen_args)):
        return True
    if not check_knowledge_data(data_root, **gen_args):
        raise DataError(f'could not create knowledge demo data in {data_root}')
    return False


def load_records(data_root: str, split: str) -> List[Dict]:
    """The per-image records (``group``, ``objects``) of ``train`` or ``val``."""
    with open(osp.join(data_root, split, 'objects.json'), encoding='utf-8') as f:
        return json.load(f)


def _npz_bytes(arrays: Dict[str, np.ndarray]) -> bytes:
    """A deterministic ``.npz`` (fixed zip timestamps), readable by ``np.load``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.save(member, arrays[key], allow_pickle=False)
            info = zipfile.ZipInfo(key + '.npy', date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


class KnowledgeEncoderScenes:
    """The encoder-pretraining scenes (all categories) of a knowledge data root, cached lazily
    in chunks ``encoder/chunk_XXXXX.npz`` (written atomically on first use; two processes that
    write one chunk at once write the same bytes).

    ``len()`` is ``num_encoder``; ``scenes[i]`` is ``dict(img, label, parts, record)``;
    :meth:`chunk` returns a whole chunk as arrays, :meth:`iter_chunks` streams them all.

    Args:
        data_root: a folder made by :func:`ensure_knowledge_data` (generated if absent and
            ``auto_generate``) with the same ``gen_args``.
        **gen_args: the parameters of :func:`knowledge_meta`.
    """

    def __init__(self, data_root: str, auto_generate: bool = True, **gen_args):
        self.data_root = data_root
        if auto_generate:
            ensure_knowledge_data(data_root, **gen_args)
        elif not check_knowledge_data(data_root, **gen_args):
            raise DataError(f'no knowledge demo data in {data_root}')
        self.meta = knowledge_meta(**gen_args)
        self.chunk_size = self.meta['encoder_chunk']
        self._cached: Tuple[int, Optional[Dict]] = (-1, None)

    def __len__(self) -> int:
        return self.meta['splits']['encoder']

    @property
    def num_chunks(self) -> int:
        return -(-len(self) // self.chunk_size)

    def chunk_path(self, k: int) -> str:
        return osp.join(self.data_root, 'encoder', f'chunk_{k:05d}.npz')

    def chunk(self, k: int) -> Dict:
        """Chunk ``k``: dict(images, labels, parts, records), scenes ``k * chunk_size`` on."""
        if not 0 <= k < self.num_chunks:
            raise IndexError(f'encoder chunk {k} out of range [0, {self.num_chunks})')
        if self._cached[0] == k:
            return self._cached[1]
        path = self.chunk_path(k)
        if not osp.isfile(path):
            m = self.meta
            start, stop = k * self.chunk_size, min((k + 1) * self.chunk_size, len(self))
            out = render_purpose_scenes(start, stop, m['image_size'], m['seed'], 'encoder',
                                        m['num_categories'], m['num_seen'])
            records = np.frombuffer(json.dumps(out.pop('records')).encode(), np.uint8)
            data = _npz_bytes(dict(out, records=records))
            os.makedirs(osp.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix='.chunk', dir=osp.dirname(path))
            try:
                with os.fdopen(fd, 'wb') as f:
                    f.write(data)
                os.replace(tmp, path)
            finally:
                if osp.exists(tmp):
                    os.remove(tmp)
        with np.load(path, allow_pickle=False) as z:
            chunk = dict(images=z['images'], labels=z['labels'], parts=z['parts'],
                         records=json.loads(z['records'].tobytes().decode()))
        self._cached = (k, chunk)
        return chunk

    def __getitem__(self, i: int) -> Dict:
        if not 0 <= i < len(self):
            raise IndexError(f'encoder scene {i} out of range [0, {len(self)})')
        ch = self.chunk(i // self.chunk_size)
        j = i % self.chunk_size
        return dict(img=ch['images'][j], label=ch['labels'][j], parts=ch['parts'][j],
                    record=ch['records'][j])

    def iter_chunks(self) -> Iterator[Dict]:
        for k in range(self.num_chunks):
            yield self.chunk(k)
