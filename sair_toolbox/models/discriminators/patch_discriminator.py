"""PatchGAN discriminator (pix2pix, Isola et al. 2017) that also sees the hole mask."""
from typing import List, Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from sair_toolbox.registry import DISCRIMINATORS
from sair_toolbox.utils.errors import ConfigError, ShapeError

from .base import DiscriminatorOutput

NORMS = ('none', 'spectral')


@DISCRIMINATORS.register_module()
class PatchDiscriminator(BaseModule):
    """A fully convolutional critic scoring overlapping patches of ``cat(2I - 1, M)``.

    ``num_layers`` stride-2 4x4 convolutions (channels doubling from ``base_channels`` up to
    ``max_channels``), one stride-1 3x3 convolution, then a 3x3 convolution to one logit per
    patch (pix2pix uses 4x4 for the last two; 3x3 keeps the size, so small images and the
    coarse scales of :class:`~.multiscale_discriminator.MultiScaleDiscriminator` fit);
    LeakyReLU(0.2) between, no normalisation layers (``norm='spectral'`` wraps every
    convolution in spectral normalisation). Seeing the mask lets it judge the fill against the
    known context, as LaMa's and CoModGAN's discriminators do.

    Args:
        in_channels: image channels (3).
        with_mask: append the mask as an input channel.
        base_channels: channels of the first convolution.
        num_layers: stride-2 convolutions (each halves the size).
        max_channels: channel cap.
        norm: ``'none'`` or ``'spectral'``.
        init_cfg: MMEngine init config.
    """

    def __init__(self, in_channels: int = 3, with_mask: bool = True, base_channels: int = 64,
                 num_layers: int = 3, max_channels: int = 512, norm: str = 'none',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if norm not in NORMS:
            raise ConfigError(f'PatchDiscriminator norm must be one of {NORMS}, got {norm!r}')
        if num_layers < 1 or base_channels < 1:
            raise ConfigError('PatchDiscriminator needs num_layers >= 1 and base_channels >= 1')
        self.in_channels = int(in_channels)
        self.with_mask = bool(with_mask)

        def conv(cin, cout, stride):
            layer = nn.Conv2d(cin, cout, 4 if stride == 2 else 3, stride, 1)
            if norm == 'spectral':
                layer = nn.utils.parametrizations.spectral_norm(layer)
            return layer

        blocks, cin = [], self.in_channels + int(self.with_mask)
        widths = [min(base_channels * 2 ** i, max_channels) for i in range(num_layers + 1)]
        for i, cout in enumerate(widths):
            stride = 2 if i < num_layers else 1
            blocks.append(nn.Sequential(conv(cin, cout, stride), nn.LeakyReLU(0.2)))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = conv(cin, 1, 1)

    def forward(self, img: Tensor, mask: Optional[Tensor] = None) -> DiscriminatorOutput:
        """Args:
            img: (B, 3, H, W) in [0, 1] (real or composited fill).
            mask: (B, 1, H, W), 1 = missing; required when ``with_mask``.

        Returns:
            :class:`DiscriminatorOutput` with one scale: logits (B, 1, h, w) and the blocks'
            activations.
        """
        if img.dim() != 4 or img.shape[1] != self.in_channels:
            raise ShapeError(f'PatchDiscriminator expects (B, {self.in_channels}, H, W), got '
                             f'{tuple(img.shape)}')
        x = img * 2 - 1
        if self.with_mask:
            if mask is None or mask.shape[0] != img.shape[0] or mask.shape[-2:] != img.shape[-2:]:
                raise ShapeError(f'PatchDiscriminator needs a (B, 1, H, W) mask for image '
                                 f'{tuple(img.shape)}, got '
                                 f'{None if mask is None else tuple(mask.shape)}')
            x = torch.cat([x, mask.to(x.dtype)], dim=1)
        feats: List[Tensor] = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return DiscriminatorOutput(logits=[self.head(x)], features=[feats])
