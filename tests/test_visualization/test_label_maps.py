import numpy as np
import pytest
import torch

from sair_toolbox.utils.errors import ShapeError
from sair_toolbox.visualization import colorize_labels, default_palette, zero_shot_label_map


def test_default_palette_is_fixed_and_distinct():
    p = default_palette(11)
    assert p.shape == (11, 3) and p.dtype == np.uint8
    np.testing.assert_array_equal(p, default_palette(11))
    assert len({tuple(c) for c in p}) == 11


def test_colorize_uses_the_given_palette():
    palette = [(1, 2, 3), (4, 5, 6), (7, 8, 9)]
    img = colorize_labels(torch.tensor([[0, 2], [1, 1]]), palette)
    assert img.dtype == np.uint8 and img.shape == (2, 2, 3)
    np.testing.assert_array_equal(img[0, 1], (7, 8, 9))
    np.testing.assert_array_equal(img[1, 0], (4, 5, 6))


def test_colorize_rejects_labels_outside_the_palette():
    with pytest.raises(ShapeError, match='palette has 2 colours'):
        colorize_labels(np.array([[0, 2]]), [(0, 0, 0), (1, 1, 1)])
    with pytest.raises(ShapeError, match=r'\(H, W\)'):
        colorize_labels(np.zeros((1, 2, 2), int))


def test_zero_shot_label_map_picks_the_most_similar_text():
    text = torch.eye(3)  # class k = direction k
    field = torch.zeros(1, 3, 2, 2)
    field[0, 2, 0, 0] = 5.0   # class 2
    field[0, 0, 0, 1] = 0.1   # class 0 (norm does not matter)
    field[0, 1, 1, :] = -1.0  # (0.5, -1, 0): anti-aligned with class 1, closest to class 0
    field[0, 0, 1, :] = 0.5
    labels = zero_shot_label_map(field, text)
    assert labels.shape == (1, 2, 2) and labels.dtype == torch.int64
    assert labels[0, 0, 0] == 2 and labels[0, 0, 1] == 0 and (labels[0, 1] == 0).all()
