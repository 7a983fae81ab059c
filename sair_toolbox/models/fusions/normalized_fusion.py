"""Unit-norm fusion: the SIR field's direction at a learned scale (an option against swamping)."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from sair_toolbox.registry import SEMANTIC_FUSIONS
from sair_toolbox.utils.errors import ConfigError, ShapeError


@SEMANTIC_FUSIONS.register_module()
class NormalizedFusion(BaseModule):
    """``S / |S| * g``: each pixel's field L2-normalised, times one learnable gain ``g``.

    In a text-aligned (CLIP) space the class lives in the direction of a feature (zero-shot labels
    are cosine similarities); its norm carries little. Fed as is (:class:`ConcatFusion`, the
    paper), a field whose magnitude exceeds the appearance features' can dominate AIR's first
    layer. This option keeps only the direction and lets AIR learn the field's weight, starting at
    ``init_gain`` (per-channel RMS ``init_gain / sqrt(c)``: 0.125 for the demo's 64 channels).

    Args:
        in_channels: channels of the semantic field (filled in by SAIR).
        init_gain: initial ``g`` (the per-pixel norm of the output).
        eps: norm floor.
        init_cfg: MMEngine init config.
    """

    def __init__(self, in_channels: int, init_gain: float = 1.0, eps: float = 1e-6,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if int(in_channels) <= 0:
            raise ConfigError(f'NormalizedFusion in_channels must be positive, got {in_channels}')
        self.in_channels = self.out_channels = int(in_channels)
        self.gain = nn.Parameter(torch.tensor(float(init_gain)))
        self.eps = eps

    def forward(self, sem: Tensor) -> Tensor:
        """(B, c, H, W) -> (B, c, H, W) with per-pixel norm ``gain``."""
        if sem.dim() != 4 or sem.shape[1] != self.in_channels:
            raise ShapeError(f'NormalizedFusion expects (B, {self.in_channels}, H, W), got '
                             f'{tuple(sem.shape)}')
        return F.normalize(sem, dim=1, eps=self.eps) * self.gain.to(sem.dtype)
