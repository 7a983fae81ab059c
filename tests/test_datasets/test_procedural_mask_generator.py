"""ProceduralMaskGenerator: hits every bin at any size, deterministic, terminates."""
import numpy as np
import pytest

from sair_toolbox.datasets.masks.procedural_mask_generator import ProceduralMaskGenerator
from sair_toolbox.datasets.masks.ratio_bins import DEFAULT_BINS, assign_bin, bin_name
from sair_toolbox.utils.errors import ConfigError


@pytest.mark.parametrize('size', [(16, 16), (16, 41), (37, 23), (64, 64), (256, 256)])
def test_hits_every_bin(size):
    gen = ProceduralMaskGenerator()
    for seed in range(8):
        for lo, hi in DEFAULT_BINS:
            mask = gen.generate(*size, np.random.default_rng(seed), (lo, hi))
            assert mask.shape == size and mask.dtype == np.float32
            assert set(np.unique(mask)) <= {0.0, 1.0}
            ratio = float(mask.mean())
            assert lo < ratio <= hi and ratio >= gen.min_ratio
            assert assign_bin(ratio) == bin_name(lo, hi)


def test_deterministic_and_seed_dependent():
    gen = ProceduralMaskGenerator()
    a = gen.generate(48, 48, np.random.default_rng(3), (0.2, 0.4))
    b = gen.generate(48, 48, np.random.default_rng(3), (0.2, 0.4))
    c = gen.generate(48, 48, np.random.default_rng(4), (0.2, 0.4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_ratios_spread_over_the_bin():
    gen = ProceduralMaskGenerator()
    ratios = [gen.generate(64, 64, np.random.default_rng(s), (0.4, 0.6)).mean()
              for s in range(30)]
    assert min(ratios) < 0.47 and max(ratios) > 0.53


def test_fallback_terminates_with_no_shape_budget():
    # max_shapes=0: only the ring-growing fallback runs; it must still land in the range.
    gen = ProceduralMaskGenerator(max_shapes=0)
    for rng_range in [(0.0, 0.2), (0.4, 0.6), (0.9, 1.0)]:
        mask = gen.generate(20, 20, np.random.default_rng(0), rng_range)
        assert rng_range[0] < mask.mean() <= rng_range[1]
    # huge shapes overshoot every time: undo/shrink, then fallback
    gen = ProceduralMaskGenerator(width_range=(0.9, 1.0), box_size_range=(0.9, 1.0),
                                  max_shapes=5)
    mask = gen.generate(32, 32, np.random.default_rng(1), (0.0, 0.2))
    assert 0 < mask.mean() <= 0.2


def test_impossible_range_is_config_error():
    gen = ProceduralMaskGenerator()
    with pytest.raises(ConfigError):
        gen.generate(2, 2, np.random.default_rng(0), (0.3, 0.45))  # 4 pixels: 0.25 or 0.5
    with pytest.raises(ConfigError):
        gen.generate(16, 16, np.random.default_rng(0), (0.5, 0.4))
