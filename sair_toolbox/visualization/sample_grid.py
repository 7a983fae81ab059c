"""One picture of several inpainting samples: a row per sample, a titled column per view.

Used by :class:`~sair_toolbox.engine.hooks.InpaintVisualizationHook` (masked input | output |
ground truth | class maps before / after SIR) and usable on its own. Pure numpy + Pillow.
"""
from typing import Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from sair_toolbox.utils.errors import ShapeError

#: Colour of label-map pixels with the ignore label (e.g. 255 in ground truth).
IGNORE_COLOR = (0, 0, 0)


def to_uint8_image(img: Union[torch.Tensor, np.ndarray]) -> np.ndarray:
    """(3, H, W) float in [0, 1] (tensor or array) or (H, W, 3) uint8 -> (H, W, 3) uint8 RGB."""
    if isinstance(img, torch.Tensor):
        img = img.detach().float().cpu().numpy()
    img = np.asarray(img)
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[-1] == 3:
        return img
    if img.ndim != 3 or img.shape[0] != 3:
        raise ShapeError(f'expected a (3, H, W) image in [0, 1], got shape {img.shape}')
    return (np.clip(img, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8)


def masked_view(img: Union[torch.Tensor, np.ndarray], mask: Union[torch.Tensor, np.ndarray],
                hole_color: Sequence[int] = (255, 255, 255)) -> np.ndarray:
    """The masked input as a picture: the known pixels, the hole painted in ``hole_color``.

    Args:
        img: (3, H, W) in [0, 1] or (H, W, 3) uint8.
        mask: (1, H, W) or (H, W), 1 = missing.
        hole_color: RGB of the hole.

    Returns:
        (H, W, 3) uint8.
    """
    out = to_uint8_image(img).copy()
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    hole = np.asarray(mask).reshape(out.shape[:2]) > 0.5
    out[hole] = np.asarray(hole_color, dtype=np.uint8)
    return out


def colorize_with_ignore(labels: Union[torch.Tensor, np.ndarray], palette: np.ndarray,
                         ignore_index: int = 255) -> np.ndarray:
    """Colour a label map with ``palette`` (L, 3); ``ignore_index`` (or any label >= L) black."""
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim == 3 and labels.shape[0] == 1:
        labels = labels[0]
    if labels.ndim != 2:
        raise ShapeError(f'labels must be (H, W), got shape {labels.shape}')
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    invalid = (labels < 0) | (labels >= len(palette)) | (labels == ignore_index)
    out = palette[np.where(invalid, 0, labels)]
    out[invalid] = IGNORE_COLOR
    return out


def _resize_nearest(img: np.ndarray, scale: int) -> np.ndarray:
    return img if scale == 1 else img.repeat(scale, axis=0).repeat(scale, axis=1)


def _font(size: int):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed bitmap font
        return ImageFont.load_default()


def compose_grid(columns: Mapping[str, Sequence[np.ndarray]],
                 legend: Optional[Sequence[Tuple[str, Sequence[int]]]] = None,
                 scale: Optional[int] = None,
                 min_tile: int = 128,
                 pad: int = 4,
                 background: Sequence[int] = (255, 255, 255)) -> np.ndarray:
    """Tile images into a titled grid: one column per key, one row per sample.

    Args:
        columns: ``{title: [tile of sample 0, tile of sample 1, ...]}``, every tile (H, W, 3)
            uint8 of the same size; every column as long as the first.
        legend: optional ``[(class name, (r, g, b)), ...]`` drawn as swatches under the grid.
        scale: integer upscaling of every tile (nearest, so label maps stay crisp); default the
            smallest one that makes tiles at least ``min_tile`` pixels high.
        min_tile: see ``scale``.
        pad: pixels between tiles.
        background: RGB of the padding.

    Returns:
        (H', W', 3) uint8 RGB.
    """
    from PIL import Image, ImageDraw

    titles = list(columns)
    if not titles:
        raise ShapeError('compose_grid: no columns')
    rows = len(columns[titles[0]])
    tiles = [[np.asarray(tile) for tile in columns[t]] for t in titles]
    shapes = {tile.shape for column in tiles for tile in column}
    if any(len(column) != rows for column in tiles) or len(shapes) != 1:
        raise ShapeError(f'compose_grid: every column needs {rows} tiles of one (H, W, 3) uint8 '
                         f'size, got shapes {sorted(shapes)}')
    h, w, _ = shapes.pop()
    if scale is None:
        scale = max(1, -(-min_tile // h))
    th, tw = h * scale, w * scale
    font_size = max(10, min(16, tw // 10))
    font = _font(font_size)
    header = font_size + 2 * pad
    legend = list(legend or [])
    swatch = font_size
    # Legend entries flow left to right, wrapping at the grid width.
    width = len(titles) * (tw + pad) + pad
    probe = ImageDraw.Draw(Image.new('RGB', (1, 1)))
    entries, x, y = [], pad, 0
    for name, color in legend:
        entry_w = swatch + 4 + int(probe.textlength(str(name), font=font)) + 3 * pad
        if x + entry_w > width and x > pad:
            x, y = pad, y + swatch + pad
        entries.append((x, y, str(name), tuple(int(c) for c in color)))
        x += entry_w
    legend_h = (y + swatch + 2 * pad) if entries else 0
    height = header + rows * (th + pad) + legend_h

    canvas = Image.new('RGB', (width, height), tuple(background))
    draw = ImageDraw.Draw(canvas)
    for c, title in enumerate(titles):
        x0 = pad + c * (tw + pad)
        text_w = draw.textlength(title, font=font)
        draw.text((x0 + max(0, (tw - text_w) / 2), pad), title, fill=(0, 0, 0), font=font)
        for r in range(rows):
            tile = _resize_nearest(tiles[c][r], scale)
            canvas.paste(Image.fromarray(tile), (x0, header + r * (th + pad)))
    y0 = header + rows * (th + pad) + pad
    for x, y, name, color in entries:
        draw.rectangle([x, y0 + y, x + swatch, y0 + y + swatch], fill=color, outline=(0, 0, 0))
        draw.text((x + swatch + 4, y0 + y), name, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)
