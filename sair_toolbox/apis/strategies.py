"""Photos of any size: which part of a photo the model sees, and where AIR renders.

The models work at the resolution they were trained at, the *working size* (64 for the demo
configs, 256 for the paper's). A photo is inpainted by one of four strategies
(``SAIRInferencer(strategy=...)``, ``tools/inpaint.py --strategy``, the web demo):

``full``
    The whole photo at its own resolution (the encoders run at the photo's size; memory and time
    grow with it). At the input size AIR renders only the hole's pixels.
``resize``
    The whole photo resized to the working size (longer side), encoded once; AIR then renders
    the hole's pixels of the *photo's* grid (continuous queries: pixel centres of the photo in
    the resized grid's ``[-1, 1]`` coordinates, cell = one photo pixel). No upsampling of a
    low-resolution fill.
``crop``
    Each hole's bounding box plus a margin (:func:`plan_crops`), resized to the working size and
    encoded; AIR renders the hole's pixels of the photo inside that crop, mapped into the crop's
    continuous coordinates (DESIGN.md section 7: a photo pixel ``(x, y)`` inside the crop
    ``[x0, x1) x [y0, y1)`` sits at ``((x + 0.5 - x0) / (x1 - x0)) * 2 - 1``, the cell is one
    photo pixel, ``2 / (x1 - x0)``). Overlapping crops merge; holes far apart get their own.
``auto``
    ``crop`` when the output is the photo's size and the photo is larger than the working size,
    else ``full``; a hole whose crops would cover most of the photo falls back to ``resize``
    (and says so).

Whatever the strategy, at the photo's size the pixels outside the hole are the decoded input's,
bit for bit: only hole pixels are written. Memory follows what the model sees (the crop at the
working size) plus the photo's own arrays (:func:`estimate_photo`).

How a crop is made (documented choices, options of :func:`plan_crops`):

* the context box is a square of side ``max(working_size, (1 + 2 * margin) * s)`` around a
  hole box of longer side ``s`` (``margin=0.5``: the hole spans at most half the crop's side, as
  in the training masks), moved inside the photo, clipped where the photo is smaller; never
  smaller than the working size, so a small hole is seen at the photo's own resolution rather
  than enlarged;
* the crop is downscaled with an area (box) filter, and a pixel of the model's grid is a hole
  pixel if any photo pixel it covers is (so no hole content leaks into the known input); an
  enlarged crop (a photo side below the working size) uses bicubic interpolation and its hole
  is grown by one pixel (the filter's reach);
* the model's grid keeps the crop's aspect ratio: longer side = the working size, the other
  rounded to a multiple of 8 (at least 8).
"""
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from sair_toolbox.utils.errors import ConfigError

#: The strategies (``auto`` first: the default).
STRATEGIES = ('auto', 'full', 'resize', 'crop')
#: How a ``crop``/``resize`` fill is rendered: AIR at the photo's pixel grid (``native``), or at
#: the model's grid and bicubically upsampled (``bicubic``, the comparison of the docs' table).
RENDERS = ('native', 'bicubic')
#: Default margin of a crop around its hole box, as a fraction of the box's longer side.
CROP_MARGIN = 0.5
#: ``auto`` and ``crop`` fall back to ``resize`` when the crops would cover more than this
#: fraction of the photo (one encode of the whole photo is then cheaper and sees more context).
RESIZE_FALLBACK = 0.5

Box = Tuple[int, int, int, int]  # (y0, y1, x0, x1), half-open, photo pixels


@dataclass
class Plan:
    """What one photo's inpainting does.

    Attributes:
        strategy: ``'full'``, ``'resize'`` or ``'crop'`` (never ``'auto'``).
        boxes: the regions encoded, ``(y0, y1, x0, x1)`` in photo pixels (one box covering the
            photo for ``resize``; empty for ``full``).
        sizes: the model's input ``(h, w)`` for each box.
        note: why the strategy was chosen when it is not what was asked, else ``''``.
    """

    strategy: str
    boxes: List[Box]
    sizes: List[Tuple[int, int]]
    note: str = ''


def check_strategy(strategy: str, render: str = 'native') -> str:
    """The canonical strategy name; one :class:`ConfigError` line for an unknown one."""
    name = str(strategy).lower()
    if name not in STRATEGIES:
        raise ConfigError(f'strategy must be one of {", ".join(STRATEGIES)}, got {strategy!r}')
    if render not in RENDERS:
        raise ConfigError(f'render must be one of {", ".join(RENDERS)}, got {render!r}')
    return name


def model_size(height: int, width: int, working_size: int) -> Tuple[int, int]:
    """The model's input size for a region: the longer side is ``working_size``, the other
    keeps the aspect ratio, rounded to a multiple of 8 (at least 8)."""
    f = working_size / max(height, width)

    def side(n: int) -> int:
        if n == max(height, width):
            return int(working_size)
        return max(8, int(round(n * f / 8)) * 8)

    return side(height), side(width)


#: More hole components than this are grouped first (:func:`plan_crops`): a mask of thousands
#: of specks must not cost thousands of crops, nor a quadratic merge.
MAX_COMPONENTS = 64


def hole_boxes(hole: np.ndarray, grow: int = 0) -> List[Box]:
    """Bounding boxes of the hole's connected components (8-connected).

    Args:
        hole: (H, W), nonzero = missing.
        grow: components closer than this many pixels count as one (the hole is dilated by a
            ``grow x grow`` square before labelling; the boxes are those of the hole pixels).

    Returns:
        ``(y0, y1, x0, x1)`` per component, half-open.
    """
    from scipy import ndimage
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    if not len(rows):
        return []
    # Label only the hole's bounding box (a small hole in a 100-megapixel photo: a small label
    # image instead of a full-size one).
    oy, ox = int(rows[0]), int(cols[0])
    inside = hole[oy:int(rows[-1]) + 1, ox:int(cols[-1]) + 1] > 0
    grown = ndimage.maximum_filter(inside.view(np.uint8), size=grow) > 0 if grow > 1 else inside
    labels, _ = ndimage.label(grown, structure=np.ones((3, 3), bool))
    labels[~inside] = 0  # boxes of the hole's own pixels, grouped by the grown components
    boxes = []
    for sl in ndimage.find_objects(labels):
        if sl is not None:
            boxes.append((oy + sl[0].start, oy + sl[0].stop, ox + sl[1].start, ox + sl[1].stop))
    return boxes


def _context(box: Box, shape: Tuple[int, int], working_size: int, margin: float) -> Box:
    """The crop around a hole box: a square of side ``max(working_size, (1 + 2 margin) s)``
    centred on the box, moved inside the photo and clipped to it."""
    y0, y1, x0, x1 = box
    h, w = shape
    side = max(int(working_size), int(math.ceil((1 + 2 * margin) * max(y1 - y0, x1 - x0))))

    def span(a: int, b: int, n: int) -> Tuple[int, int]:
        size = min(side, n)
        start = (a + b) // 2 - size // 2
        start = min(max(start, 0), n - size)
        return start, start + size

    cy0, cy1 = span(y0, y1, h)
    cx0, cx1 = span(x0, x1, w)
    return cy0, cy1, cx0, cx1


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def plan_crops(hole: np.ndarray, working_size: int, margin: float = CROP_MARGIN) -> List[Box]:
    """The crops of a photo's hole: one per group of hole components whose crops overlap.

    Each connected component's box gets its context crop (:func:`_context`); crops that overlap
    are replaced by the crop of their hole boxes' union, until no two overlap. Every hole pixel
    lies in exactly one crop.

    Args:
        hole: (H, W), nonzero = missing.
        working_size: the model's working size.
        margin: context around a hole box, as a fraction of its longer side.

    Returns:
        ``(y0, y1, x0, x1)`` crops, in photo pixels, sorted.
    """
    if margin < 0:
        raise ConfigError(f'crop margin must be >= 0, got {margin}')
    shape = hole.shape[:2]
    boxes = hole_boxes(hole)
    if len(boxes) > MAX_COMPONENTS:  # specks: group those within half a working size
        boxes = hole_boxes(hole, grow=max(2, working_size // 2))
    if len(boxes) > MAX_COMPONENTS:  # still scattered everywhere: one region
        boxes = [(min(b[0] for b in boxes), max(b[1] for b in boxes),
                  min(b[2] for b in boxes), max(b[3] for b in boxes))]
    groups = [(b, _context(b, shape, working_size, margin)) for b in boxes]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if _overlap(groups[i][1], groups[j][1]):
                    a, b = groups[i][0], groups[j][0]
                    union = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))
                    groups[i] = (union, _context(union, shape, working_size, margin))
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return sorted(crop for _, crop in groups)


def choose(strategy: str, photo_size: Tuple[int, int], out_size: Tuple[int, int],
           hole: Optional[np.ndarray], working_size: Optional[int],
           margin: float = CROP_MARGIN) -> Plan:
    """Resolve a strategy for one photo.

    Args:
        strategy: one of :data:`STRATEGIES`.
        photo_size: ``(H, W)`` of the photo.
        out_size: ``(H', W')`` of the output.
        hole: (H, W) hole (needed for ``crop``/``auto``; None plans a bound: one crop of the
            whole photo).
        working_size: the model's working size, or None when unknown.
        margin: see :func:`plan_crops`.

    Raises:
        ConfigError: ``crop``/``resize`` at another output size, or without a working size.
    """
    name = check_strategy(strategy)
    h, w = photo_size
    same = tuple(out_size) == (h, w)
    if name == 'full':
        return Plan('full', [], [])
    if name == 'auto':
        if not same:
            return Plan('full', [], [])
        if working_size is None:
            return Plan('full', [], [], 'the working size is unknown (no img_size in the '
                        'config); the whole photo is encoded')
        if max(h, w) <= working_size:
            return Plan('full', [], [])
        name = 'crop'
    if not same:
        raise ConfigError(f'strategy {name!r} renders at the photo\'s own size; for another '
                          f'output size ({out_size[1]}x{out_size[0]}) use strategy full')
    if working_size is None:
        raise ConfigError(f'strategy {name!r} needs the model\'s working size: set img_size in '
                          'the config (or pass working_size=)')
    note = ''
    if name == 'crop':
        boxes = plan_crops(hole, working_size, margin) if hole is not None else [(0, h, 0, w)]
        covered = sum((b[1] - b[0]) * (b[3] - b[2]) for b in boxes)
        if hole is not None and covered > RESIZE_FALLBACK * h * w:
            name = 'resize'
            note = (f'the hole\'s crops would cover {100 * covered / (h * w):.0f}% of the photo: '
                    'strategy resize instead of crop')
        else:
            return Plan('crop', boxes, [model_size(b[1] - b[0], b[3] - b[2], working_size)
                                         for b in boxes], note)
    return Plan('resize', [(0, h, 0, w)], [model_size(h, w, working_size)], note)


# ---------------------------------------------------------------------- pixels in and out
def downscale(rgb: np.ndarray, hole: np.ndarray, size: Tuple[int, int]
              ) -> Tuple[np.ndarray, np.ndarray]:
    """A region at the model's size: ((h, w, 3) float32 in [0, 1], (h, w) float32 {0, 1}).

    Shrinking uses an area (box) filter and marks a model pixel missing if any photo pixel it
    covers is; enlarging uses bicubic interpolation and grows the hole by one pixel.
    """
    from PIL import Image
    h, w = size
    big = h > rgb.shape[0] or w > rgb.shape[1]
    method = Image.BICUBIC if big else Image.BOX
    img = np.clip(_resize_channels(rgb, size, method) / 255.0, 0, 1).astype(np.float32)
    frac = np.asarray(Image.fromarray((hole > 0).astype(np.float32), 'F').resize((w, h), method))
    small = frac > (0 if not big else 1e-3)
    if big:
        from scipy import ndimage
        small = ndimage.binary_dilation(small, np.ones((3, 3), bool))
    return img, small.astype(np.float32)


def photo_queries(ys: np.ndarray, xs: np.ndarray, box: Box) -> Tuple[np.ndarray, np.ndarray]:
    """Continuous coordinates of photo pixels inside a box: ``(Q, 2)`` ``(y, x)`` in the box's
    ``[-1, 1]`` and the cell ``(2,)`` = one photo pixel there (float32).

    Args:
        ys, xs: (Q,) photo pixel rows / columns, inside ``box``.
        box: ``(y0, y1, x0, x1)``.
    """
    y0, y1, x0, x1 = box
    cy = (ys.astype(np.float64) + 0.5 - y0) / (y1 - y0) * 2 - 1
    cx = (xs.astype(np.float64) + 0.5 - x0) / (x1 - x0) * 2 - 1
    coord = np.stack([cy, cx], axis=-1).astype(np.float32)
    cell = np.array([2.0 / (y1 - y0), 2.0 / (x1 - x0)], dtype=np.float32)
    return coord, cell


def upsample_bicubic(img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """(h, w, 3) float in [0, 1] -> (H, W, 3) float32, bicubic (PIL), clipped to [0, 1]."""
    from PIL import Image
    return np.clip(_resize_channels(img, size, Image.BICUBIC), 0, 1)


def _resize_channels(img: np.ndarray, size: Tuple[int, int], method) -> np.ndarray:
    """(h, w, 3) of any real dtype -> (H, W, 3) float32, each channel resized by PIL in float
    (mode ``F``: no rounding to 8 bits) with ``method``."""
    from PIL import Image
    h, w = size
    return np.stack([np.asarray(Image.fromarray(img[..., c].astype(np.float32), 'F')
                                .resize((w, h), method)) for c in range(3)], axis=-1)


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] -> uint8, rounded (as the inferencer quantises its output)."""
    return np.clip(np.rint(np.clip(values, 0, 1) * 255), 0, 255).astype(np.uint8)


def estimate_photo(model, plan: Plan, photo_size: Tuple[int, int], queries: int,
                   labels: bool = False, num_classes: int = 0) -> int:
    """Upper bound of the bytes a ``resize``/``crop`` request holds at its peak.

    The largest region's model pass (:func:`~sair_toolbox.apis.memory.estimate` at its model
    size), the queries of the hole (coordinates, cells, outputs and their float64/index
    temporaries: 64 bytes each, a bound), and the photo's own arrays: input and output RGB
    (6 bytes per pixel), the hole (float32, its boolean copies: 6) and, with label maps, the
    two label maps and their colour images (22).
    """
    from .memory import estimate
    h, w = photo_size
    model_bytes = max((estimate(model, s, s, labels, num_classes) for s in plan.sizes),
                      default=0)
    per_pixel = 12 + (22 if labels else 0)
    return int(model_bytes + 64 * queries + per_pixel * h * w)


def boxes_text(boxes: Sequence[Box]) -> str:
    """``'3 crops (412x412, ...)'`` for messages."""
    sizes = ', '.join(f'{b[3] - b[2]}x{b[1] - b[0]}' for b in boxes[:4])
    more = ', ...' if len(boxes) > 4 else ''
    return f'{len(boxes)} crop{"s" if len(boxes) != 1 else ""} ({sizes}{more})'
