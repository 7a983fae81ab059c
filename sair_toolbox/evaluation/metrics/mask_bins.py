"""Mask-ratio bins of the metrics: which bin a data sample is counted in.

One rule for :class:`~.inpainting_metric.InpaintingMetric` and
:class:`~.distribution_metric.DistributionMetric`, so that both report the same images in the
same bin: a sample's own ``mask_bin`` when it names one of the bins; ``mask_bin=None`` (no bin
given by the dataset) counts only in ``all`` unless the metric has custom bins; otherwise the
bin of ``mask_ratio``, or of the hole fraction of ``mask``.
"""
from typing import Any, Dict, Optional, Sequence, Tuple

import torch

from sair_toolbox.datasets.masks.ratio_bins import DEFAULT_BINS, assign_bin, bin_name
from sair_toolbox.utils.errors import ConfigError

_MISSING = object()

Bins = Tuple[Tuple[float, float], ...]


class MaskBins:
    """Validated ratio bins and the rule that puts a sample in one.

    Args:
        bins: ``(low, high)`` hole-ratio pairs, increasing and non-overlapping in [0, 1];
            ``None`` = the paper's 0-20 / 20-40 / 40-60 %.

    Attributes:
        bins: the pairs as floats.
        names: their names (``'0-20'``, ...).
        custom: whether ``bins`` differ from the default.

    Raises:
        ConfigError: malformed, overlapping or duplicate-named bins.
    """

    def __init__(self, bins: Optional[Sequence[Sequence[float]]] = None):
        self.bins, self.names = self.check(bins)
        self.custom = self.bins != tuple(DEFAULT_BINS)

    @staticmethod
    def check(bins) -> Tuple[Bins, Tuple[str, ...]]:
        """The bins as float pairs and their names (``None``: the default bins)."""
        bins = DEFAULT_BINS if bins is None else bins
        try:
            bins = tuple((float(lo), float(hi)) for lo, hi in bins)
        except (TypeError, ValueError):
            raise ConfigError(f'bins must be a list of (low, high) pairs, got {bins!r}') from None
        if not bins or any(not 0 <= lo < hi <= 1 for lo, hi in bins) or any(
                a[1] > b[0] for a, b in zip(bins, bins[1:])):
            raise ConfigError(f'bins must be increasing, non-overlapping (low, high) pairs in '
                              f'[0, 1], got {bins}')
        names = tuple(bin_name(lo, hi) for lo, hi in bins)
        if len(set(names)) != len(names):
            raise ConfigError(f'bins {bins} give duplicate names {names}')
        return bins, names

    def of(self, sample: Dict[str, Any], mask: Optional[torch.Tensor]) -> Optional[str]:
        """The bin name of one sample, or None (counted only in 'all'); see the module doc.

        Args:
            sample: the data sample as a dict (``mask_bin``, ``mask_ratio`` optional).
            mask: (1, H, W) or (H, W) hole mask (1 = missing), or None.
        """
        given = sample.get('mask_bin', _MISSING)
        if isinstance(given, str) and given in self.names:
            return given
        if given is None and not self.custom:
            return None
        ratio = sample.get('mask_ratio')
        if ratio is None:
            if mask is None:
                return None
            ratio = torch.as_tensor(mask).float().mean()
        return assign_bin(float(ratio), self.bins)
