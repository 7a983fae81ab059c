"""Which mask a sample gets: deterministic for evaluation, random per draw for training.

Evaluation pairing depends on ``(mask_seed, sample_idx)`` only -- not on the process, the rank,
the number of workers, the batch size or what was drawn before -- so every run, process and rank
gives image ``i`` the same mask. ``sample_idx`` is the index in the dataset (after ``indices``
sub-setting), so a distributed sampler that sends image ``i`` to any rank still pairs it the same.

Training draws come from NumPy's global generator, which :class:`BaseInpaintDataset` replaces by
its own per-(seed, rank, worker) stream while the pipeline runs (see ``data_rng.py``).
"""
from typing import Optional, Sequence

import numpy as np

#: ``results`` key holding the evaluation mask seed (``None`` = random per draw).
MASK_SEED_KEY = 'mask_seed'


def sample_rng(mask_seed: int, sample_idx: int) -> np.random.Generator:
    """Generator determined by ``(mask_seed, sample_idx)`` alone."""
    return np.random.default_rng(np.random.SeedSequence([int(mask_seed), int(sample_idx)]))


def draw_rng() -> np.random.Generator:
    """Generator for one random training draw, seeded from NumPy's global stream."""
    return np.random.default_rng(np.random.randint(0, 2**31 - 1, size=4))


def mask_rng(results: dict) -> np.random.Generator:
    """The generator a mask transform must use for this sample.

    ``results[MASK_SEED_KEY]`` set (evaluation): :func:`sample_rng` of it and
    ``results['sample_idx']``; ``None`` or absent (training): :func:`draw_rng`.
    """
    seed = results.get(MASK_SEED_KEY)
    if seed is None:
        return draw_rng()
    return sample_rng(seed, results.get('sample_idx', 0))


def is_deterministic(results: dict) -> bool:
    return results.get(MASK_SEED_KEY) is not None


def pick_bin_index(results: dict, n_bins: int, rng: np.random.Generator,
                   fixed_bin: Optional[int] = None, balanced: bool = True) -> Optional[int]:
    """Index of the bin a sample's mask is drawn from.

    Evaluation (deterministic) with ``balanced``: ``sample_idx % n_bins`` (image ``i`` gets bin
    ``i % 3``: equal thirds per bin). Training: uniform with ``rng``. ``fixed_bin`` overrides both.
    ``balanced=False`` returns ``None`` (draw from all masks together).
    """
    if fixed_bin is not None:
        return int(fixed_bin)
    if not balanced:
        return None
    if is_deterministic(results):
        return int(results.get('sample_idx', 0)) % n_bins
    return int(rng.integers(n_bins))


def as_bins(bins: Sequence[Sequence[float]]):
    """Config lists -> tuple of ``(lo, hi)`` float tuples."""
    return tuple((float(b[0]), float(b[1])) for b in bins)
