"""Mask-ratio bins of the evaluation protocol (MISF's, which the paper follows)."""
from typing import Optional, Sequence, Tuple

#: Hole-area bins of the paper's Tables 1 and 2, as fractions of the image area.
DEFAULT_BINS: Tuple[Tuple[float, float], ...] = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6))


def bin_name(low: float, high: float) -> str:
    """``(0.2, 0.4) -> '20-40'`` (percent, the label used in metrics and tables)."""
    return f'{round(low * 100):d}-{round(high * 100):d}'


def assign_bin(ratio: float,
               bins: Sequence[Tuple[float, float]] = DEFAULT_BINS) -> Optional[str]:
    """Name of the bin that holds ``ratio``, or ``None`` if it is outside every bin.

    Bins are half-open ``(low, high]`` except that the first one also holds ``low`` itself, so
    0.2 belongs to ``'0-20'`` and 0.2000001 to ``'20-40'``.
    """
    for i, (low, high) in enumerate(bins):
        if (low < ratio or (i == 0 and ratio >= low)) and ratio <= high:
            return bin_name(low, high)
    return None
