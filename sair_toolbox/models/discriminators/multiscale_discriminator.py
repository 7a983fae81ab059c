"""Several PatchGAN discriminators on an image pyramid (pix2pixHD, Wang et al. 2018)."""
from typing import Optional

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from sair_toolbox.registry import DISCRIMINATORS
from sair_toolbox.utils.errors import ConfigError

from .base import DiscriminatorOutput


@DISCRIMINATORS.register_module()
class MultiScaleDiscriminator(BaseModule):
    """``num_scales`` independent discriminators; scale ``s`` sees the image and the mask
    average-pooled ``s`` times (3x3, stride 2, padding 1, padding excluded from the mean; the
    mask becomes the fraction of missing pixels).

    Args:
        num_scales: number of scales (>= 1).
        discriminator: config of each scale's discriminator (``DISCRIMINATORS``; default a
            :class:`~.patch_discriminator.PatchDiscriminator`).
        init_cfg: MMEngine init config.
    """

    def __init__(self, num_scales: int = 2, discriminator: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_scales < 1:
            raise ConfigError(f'MultiScaleDiscriminator num_scales must be >= 1, got {num_scales}')
        cfg = dict(discriminator or dict(type='PatchDiscriminator'))
        self.scales = nn.ModuleList(DISCRIMINATORS.build(dict(cfg)) for _ in range(num_scales))

    @staticmethod
    def _down(x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)

    def forward(self, img: Tensor, mask: Optional[Tensor] = None) -> DiscriminatorOutput:
        """Args:
            img: (B, 3, H, W) in [0, 1].
            mask: (B, 1, H, W), 1 = missing.

        Returns:
            :class:`DiscriminatorOutput` with ``num_scales`` logit maps and feature lists,
            full resolution first.
        """
        logits, feats = [], []
        for i, disc in enumerate(self.scales):
            if i:
                img = self._down(img)
                mask = self._down(mask) if mask is not None else None
            out = disc(img, mask)
            logits += out.logits
            feats += out.features
        return DiscriminatorOutput(logits=logits, features=feats)
