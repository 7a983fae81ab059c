"""Discriminator feature matching (pix2pixHD, Wang et al. 2018; LaMa)."""
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from sair_toolbox.registry import LOSSES
from sair_toolbox.utils.errors import ConfigError


@LOSSES.register_module()
class FeatureMatchingLoss(nn.Module):
    """``loss_weight *`` the mean over scales and layers of ``mean |D_l(fake) - D_l(real)|``.

    The real features are targets (detached); gradients reach the generator through the fake
    ones.

    Args:
        loss_weight: multiplier.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, fake_feats: Sequence[Sequence[Tensor]],
                real_feats: Sequence[Sequence[Tensor]]) -> Tensor:
        """Args:
            fake_feats: per scale, the list of intermediate feature maps (B, C_l, h_l, w_l) of
                the discriminator on the generated images.
            real_feats: the same structure on the real images.

        Returns:
            scalar float32 loss.
        """
        if len(fake_feats) != len(real_feats) or any(
                len(f) != len(r) for f, r in zip(fake_feats, real_feats)):
            raise ConfigError('FeatureMatchingLoss: fake and real features differ in structure')
        terms = [F.l1_loss(f.float(), r.float().detach())
                 for fs, rs in zip(fake_feats, real_feats) for f, r in zip(fs, rs)]
        if not terms:
            raise ConfigError('FeatureMatchingLoss got no features')
        return self.loss_weight * sum(terms) / len(terms)
