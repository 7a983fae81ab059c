"""Zero-shot label maps of a semantic field and their colour images (the paper's Fig. 3)."""
from typing import Optional, Sequence, Union

import numpy as np
import torch

from sair_toolbox.models.zero_shot import labels_from_features
from sair_toolbox.utils.errors import ShapeError


def default_palette(num_classes: int, seed: int = 0) -> np.ndarray:
    """A fixed, well-spread palette for datasets that do not bring one.

    Args:
        num_classes: L.
        seed: palette seed (the same seed gives the same colours everywhere).

    Returns:
        (L, 3) uint8 RGB.
    """
    rng = np.random.default_rng(seed)
    # Bright, saturated colours: random hue, high value; keeps neighbouring labels apart.
    hue = (np.arange(num_classes) * 0.618033988749895 + rng.random()) % 1.0
    sat = 0.55 + 0.4 * rng.random(num_classes)
    val = 0.75 + 0.25 * rng.random(num_classes)
    i = np.floor(hue * 6).astype(int) % 6
    f = hue * 6 - np.floor(hue * 6)
    p, q, t = val * (1 - sat), val * (1 - f * sat), val * (1 - (1 - f) * sat)
    table = np.stack([np.choose(i, [val, q, p, p, t, val]), np.choose(i, [t, val, val, q, p, p]),
                      np.choose(i, [p, p, t, val, val, q])], axis=1)
    return (table * 255).round().astype(np.uint8)


def colorize_labels(labels: Union[np.ndarray, torch.Tensor],
                    palette: Optional[Sequence[Sequence[int]]] = None,
                    num_classes: Optional[int] = None) -> np.ndarray:
    """Colour image of a label map.

    Args:
        labels: (H, W) integer labels in [0, L) (a tensor or an array).
        palette: (L, 3) RGB colours (e.g. ``dataset.metainfo['palette']``); ``None`` uses
            :func:`default_palette`.
        num_classes: L when ``palette`` is None (default: ``labels.max() + 1``).

    Returns:
        (H, W, 3) uint8 RGB.
    """
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ShapeError(f'labels must be (H, W), got shape {labels.shape}')
    if palette is None:
        palette = default_palette(int(num_classes or (labels.max() + 1 if labels.size else 1)))
    table = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if labels.size and (labels.min() < 0 or labels.max() >= len(table)):
        raise ShapeError(f'labels span [{labels.min()}, {labels.max()}] but the palette has '
                         f'{len(table)} colours')
    return table[labels]


def zero_shot_label_map(field: torch.Tensor, text_embeddings: torch.Tensor) -> torch.Tensor:
    """Per-pixel class of a text-aligned field: argmax of cosine similarity to the class texts.

    Args:
        field: (B, c, H, W) semantic field (e.g. SIR's output, or resized ``Z_sem``).
        text_embeddings: (L, c) class embeddings (:class:`CLIPTextEmbedder`).

    Returns:
        (B, H, W) int64 labels in [0, L).
    """
    return labels_from_features(field, text_embeddings)
