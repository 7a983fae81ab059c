"""Seeded free-form masks (brush strokes + boxes) that hit a requested hole-ratio range."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from sair_toolbox.utils.errors import ConfigError


class ProceduralMaskGenerator:
    """Free-form masks in the style of DeepFill v2 / LaMa: random-walk brush strokes of varying
    width plus random boxes, grown until the hole fraction lies in a requested range.

    All randomness comes from the ``rng`` passed to :meth:`generate`, so the same generator state
    gives the same mask on every machine (OpenCV line drawing is integer-exact).

    Algorithm: draw a target ratio ``t`` uniformly in ``(max(lo, min_ratio), hi]``; add shapes (a
    stroke with probability ``1 - box_prob``, else a box), each scaled to the area still missing;
    a shape that would push the ratio above ``hi`` is undone and retried smaller; stop once the
    ratio reaches ``t``. If ``max_shapes`` attempts do not get there (tiny images, extreme bins),
    the hole is grown (or shrunk) ring by ring around its boundary until the pixel count is inside
    the range -- every step changes at least one pixel, so :meth:`generate` always terminates.

    Args:
        max_vertices: most random-walk segments per stroke.
        width_range: brush width as a fraction of ``min(H, W)``.
        length_range: segment length as a fraction of ``min(H, W)``.
        box_prob: probability that a shape is a box instead of a stroke.
        box_size_range: box side as a fraction of the image side.
        min_ratio: smallest hole fraction produced when the range starts at 0 (no empty masks).
        max_shapes: shape attempts before the ring-growing fallback.
    """

    def __init__(self,
                 max_vertices: int = 8,
                 width_range: Tuple[float, float] = (0.03, 0.10),
                 length_range: Tuple[float, float] = (0.05, 0.25),
                 box_prob: float = 0.2,
                 box_size_range: Tuple[float, float] = (0.1, 0.4),
                 min_ratio: float = 0.01,
                 max_shapes: int = 200):
        if not (0 < width_range[0] <= width_range[1]):
            raise ConfigError(f'width_range must be 0 < lo <= hi, got {width_range}')
        if not (0 < length_range[0] <= length_range[1]):
            raise ConfigError(f'length_range must be 0 < lo <= hi, got {length_range}')
        if not (0 < box_size_range[0] <= box_size_range[1] <= 1):
            raise ConfigError(f'box_size_range must be 0 < lo <= hi <= 1, got {box_size_range}')
        if not 0 <= box_prob <= 1:
            raise ConfigError(f'box_prob must be in [0, 1], got {box_prob}')
        self.max_vertices = int(max_vertices)
        self.width_range = tuple(width_range)
        self.length_range = tuple(length_range)
        self.box_prob = float(box_prob)
        self.box_size_range = tuple(box_size_range)
        self.min_ratio = float(min_ratio)
        self.max_shapes = int(max_shapes)

    # ------------------------------------------------------------------ shapes
    def _stroke(self, canvas: np.ndarray, rng: np.random.Generator, scale: float) -> None:
        h, w = canvas.shape
        side = min(h, w)
        width = max(1, int(round(rng.uniform(*self.width_range) * side * scale)))
        y, x = rng.uniform(0, h), rng.uniform(0, w)
        angle = rng.uniform(0, 2 * np.pi)
        n = int(rng.integers(1, self.max_vertices + 1))
        cv2.circle(canvas, (int(x), int(y)), width // 2, 1, -1)
        for _ in range(n):
            angle += rng.uniform(-np.pi / 2, np.pi / 2)
            length = rng.uniform(*self.length_range) * side * max(scale, 0.25)
            ny = float(np.clip(y + length * np.sin(angle), 0, h - 1))
            nx = float(np.clip(x + length * np.cos(angle), 0, w - 1))
            cv2.line(canvas, (int(x), int(y)), (int(nx), int(ny)), 1, width)
            cv2.circle(canvas, (int(nx), int(ny)), width // 2, 1, -1)
            y, x = ny, nx
            # brush width varies along the stroke
            width = max(1, int(round(width * rng.uniform(0.75, 1.3))))

    def _box(self, canvas: np.ndarray, rng: np.random.Generator, scale: float) -> None:
        h, w = canvas.shape
        bh = max(1, int(round(rng.uniform(*self.box_size_range) * h * scale)))
        bw = max(1, int(round(rng.uniform(*self.box_size_range) * w * scale)))
        y0 = int(rng.integers(0, max(h - bh, 0) + 1))
        x0 = int(rng.integers(0, max(w - bw, 0) + 1))
        canvas[y0:y0 + bh, x0:x0 + bw] = 1

    # --------------------------------------------------------------- fallback
    @staticmethod
    def _adjust(mask: np.ndarray, lo_count: int, hi_count: int,
                rng: np.random.Generator) -> np.ndarray:
        """Grow/shrink ``mask`` ring by ring until ``lo_count <= mask.sum() <= hi_count``."""
        h, w = mask.shape
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        yy, xx = np.mgrid[0:h, 0:w]
        # Ring pixels are taken nearest-first to a random point so the change stays compact.
        order_key = (yy - cy) ** 2 + (xx - cx) ** 2
        kernel = np.ones((3, 3), np.uint8)
        count = int(mask.sum())
        while count < lo_count:
            if count == 0:
                ring = np.ones_like(mask)
            else:
                ring = cv2.dilate(mask, kernel) - mask
            idx = np.flatnonzero(ring)
            need = lo_count - count
            if idx.size > need:
                idx = idx[np.argsort(order_key.ravel()[idx], kind='stable')[:need]]
            mask.ravel()[idx] = 1
            count += idx.size
        while count > hi_count:
            ring = mask - cv2.erode(mask, kernel, borderType=cv2.BORDER_REPLICATE)
            idx = np.flatnonzero(ring)
            if idx.size == 0:  # cannot happen for a non-empty mask; guard anyway
                idx = np.flatnonzero(mask)
            extra = count - hi_count
            if idx.size > extra:
                idx = idx[np.argsort(-order_key.ravel()[idx], kind='stable')[:extra]]
            mask.ravel()[idx] = 0
            count -= idx.size
        return mask

    # ------------------------------------------------------------------- API
    @staticmethod
    def count_range(height: int, width: int, ratio_range: Sequence[float],
                    min_ratio: float = 0.0) -> Tuple[int, int]:
        """Pixel counts ``(lo, hi)`` with ``lo/N > range_lo`` (or ``>= min_ratio`` for a range
        starting at 0) and ``hi/N <= range_hi``; raises if the range holds no count."""
        n = height * width
        lo, hi = float(ratio_range[0]), float(ratio_range[1])
        if not (0.0 <= lo < hi <= 1.0):
            raise ConfigError(f'ratio_range must satisfy 0 <= lo < hi <= 1, got {ratio_range}')
        # Exact float comparisons, the same that assign_bin makes on ``count / n``.
        lo_count = max(int(np.floor(lo * n)) - 1, 0)
        while lo_count / n <= lo or lo_count / n < min_ratio or lo_count == 0:
            lo_count += 1
        hi_count = int(np.floor(hi * n)) + 1
        while hi_count / n > hi:
            hi_count -= 1
        if lo_count > hi_count:
            raise ConfigError(
                f'no hole pixel count of a {height}x{width} mask lies in ratio range {ratio_range}')
        return lo_count, hi_count

    def generate(self, height: int, width: int, rng: np.random.Generator,
                 ratio_range: Sequence[float] = (0.0, 0.2)) -> np.ndarray:
        """Generate one mask.

        Args:
            height, width: mask size (any size with at least one admissible pixel count; every
                bin of width 0.2 works from 3x3 upwards).
            rng: a ``numpy.random.Generator``; the only source of randomness.
            ratio_range: ``(lo, hi)``; the hole fraction ``r`` ends up with ``lo < r <= hi``
                (and ``r >= min_ratio`` when ``lo == 0``).

        Returns:
            np.ndarray: float32 ``(height, width)`` in {0, 1}, 1 = hole.
        """
        height, width = int(height), int(width)
        lo_count, hi_count = self.count_range(height, width, ratio_range, self.min_ratio)
        n = height * width
        target = int(np.ceil(rng.uniform(lo_count, hi_count)))
        target = min(max(target, lo_count), hi_count)

        mask = np.zeros((height, width), np.uint8)
        count = 0
        scale = 1.0
        for _ in range(self.max_shapes):
            if count >= target:
                break
            # Shapes shrink with the area still missing so the last one rarely overshoots.
            missing = (target - count) / n
            shape_scale = scale * float(np.clip(np.sqrt(missing / 0.1), 0.3, 1.5))
            candidate = mask.copy()
            if rng.random() < self.box_prob:
                self._box(candidate, rng, shape_scale)
            else:
                self._stroke(candidate, rng, shape_scale)
            new_count = int(candidate.sum())
            if new_count > hi_count:
                scale *= 0.7  # undo and retry smaller
                continue
            mask, count = candidate, new_count
        if not lo_count <= count <= hi_count:
            mask = self._adjust(mask, lo_count, hi_count, rng)
        return mask.astype(np.float32)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(max_vertices={self.max_vertices}, '
                f'width_range={self.width_range}, length_range={self.length_range}, '
                f'box_prob={self.box_prob}, box_size_range={self.box_size_range}, '
                f'min_ratio={self.min_ratio})')


def generate_mask(height: int, width: int, rng: np.random.Generator,
                  ratio_range: Sequence[float] = (0.0, 0.2),
                  generator: Optional[ProceduralMaskGenerator] = None) -> np.ndarray:
    """Shortcut: :meth:`ProceduralMaskGenerator.generate` with the default settings."""
    return (generator or ProceduralMaskGenerator()).generate(height, width, rng, ratio_range)
