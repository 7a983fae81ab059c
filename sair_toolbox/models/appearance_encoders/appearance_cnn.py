"""The paper's appearance encoder (SAIR Tab. 3)."""
from typing import Optional

from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from sair_toolbox.registry import APPEARANCE_ENCODERS

from .base import BaseAppearanceEncoder


class ResnetBlock(nn.Module):
    """Two 3x3 convs with reflection padding and an identity skip (EdgeConnect style).

    Args:
        channels: input and output channels.
        dilation: dilation of the first conv (EdgeConnect uses 2; the paper does not say, so
            the default is 1).
        norm_cfg: optional MMCV norm config applied after each conv (the paper uses none).
    """

    def __init__(self, channels: int, dilation: int = 1, norm_cfg: Optional[dict] = None):
        super().__init__()
        layers = [nn.ReflectionPad2d(dilation),
                  nn.Conv2d(channels, channels, 3, dilation=dilation, bias=norm_cfg is None)]
        if norm_cfg is not None:
            layers.append(build_norm_layer(norm_cfg, channels)[1])
        layers += [nn.ReLU(inplace=True), nn.ReflectionPad2d(1),
                   nn.Conv2d(channels, channels, 3, bias=norm_cfg is None)]
        if norm_cfg is not None:
            layers.append(build_norm_layer(norm_cfg, channels)[1])
        self.block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


@APPEARANCE_ENCODERS.register_module()
class AppearanceCNN(BaseAppearanceEncoder):
    """APPENCODER of SAIR (paper Tab. 3): full-resolution features of ``cat(I_m, M)``.

    ``Conv(4,64,7,1,3)`` > ``Conv(64,128,4,2,1)`` > ``Conv(128,256,4,2,1)`` > 8 ResNet blocks at
    H/4 > 2x ``Conv(256,256,3,1,1)`` > ``ConvT(256,128,4,2,1)`` (H/2) > ``ConvT(128,64,4,2,1)``
    (H), each conv followed by ReLU. The table lists the last two as ``Conv(., ., 4, 2, 1)`` but
    their output sizes double the resolution, so they are transposed convolutions.

    Args:
        in_channels: 4 (RGB + mask).
        base_channels: width of the first stage (64 in the paper); the stages use
            ``base``, ``2 base``, ``4 base`` channels. ``out_channels == base_channels``.
        num_res_blocks: ResNet blocks at H/4 (8 in the paper).
        dilation: dilation of the first conv of each ResNet block.
        norm_cfg: optional norm layer after each conv of the ResNet blocks.
        channels_last: run the convolutions NHWC (see :class:`BaseAppearanceEncoder`).
    """

    size_divisor = 4

    def __init__(self, in_channels: int = 4, base_channels: int = 64, num_res_blocks: int = 8,
                 dilation: int = 1, norm_cfg: Optional[dict] = None,
                 channels_last: bool = True, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.channels_last = channels_last
        c1, c2, c3 = base_channels, base_channels * 2, base_channels * 4
        self.out_channels = c1
        relu = nn.ReLU(inplace=True)
        self.down = nn.Sequential(
            nn.Conv2d(in_channels, c1, 7, 1, 3), relu,
            nn.Conv2d(c1, c2, 4, 2, 1), relu,
            nn.Conv2d(c2, c3, 4, 2, 1), relu)
        self.middle = nn.Sequential(
            *[ResnetBlock(c3, dilation, norm_cfg) for _ in range(num_res_blocks)],
            nn.Conv2d(c3, c3, 3, 1, 1), relu,
            nn.Conv2d(c3, c3, 3, 1, 1), relu)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(c3, c2, 4, 2, 1), relu,
            nn.ConvTranspose2d(c2, c1, 4, 2, 1), relu)

    def encode(self, x: Tensor) -> Tensor:
        return self.up(self.middle(self.down(x)))
