"""LIIF's EDSR-baseline feature extractor (Lim et al. 2017), without upsampling."""
from typing import Optional

from torch import Tensor, nn

from sair_toolbox.registry import APPEARANCE_ENCODERS

from .base import BaseAppearanceEncoder


class EDSRResBlock(nn.Module):
    """conv3x3 > ReLU > conv3x3, scaled by ``res_scale`` and added to the input."""

    def __init__(self, channels: int, res_scale: float = 1.0):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1))
        self.res_scale = res_scale

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x) * self.res_scale


@APPEARANCE_ENCODERS.register_module()
class EDSREncoder(BaseAppearanceEncoder):
    """EDSR-baseline as LIIF uses it: head conv, 16 residual blocks of 64 channels, body conv,
    global residual, no upsampling (``no_upsampling=True``) and, as in LIIF, no mean shift.

    The input is the masked image and the mask (4 channels) instead of LIIF's RGB.

    Args:
        in_channels: 4 (RGB + mask).
        channels: feature width (64 in EDSR-baseline); ``out_channels == channels``.
        num_blocks: residual blocks (16 in EDSR-baseline).
        res_scale: residual scaling (1 in EDSR-baseline).
        channels_last: run the convolutions NHWC (see :class:`BaseAppearanceEncoder`).
    """

    def __init__(self, in_channels: int = 4, channels: int = 64, num_blocks: int = 16,
                 res_scale: float = 1.0, channels_last: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.channels_last = channels_last
        self.out_channels = channels
        self.head = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.body = nn.Sequential(*[EDSRResBlock(channels, res_scale) for _ in range(num_blocks)],
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def encode(self, x: Tensor) -> Tensor:
        x = self.head(x)
        return x + self.body(x)
