"""The paper's reconstruction loss: L1 between prediction and ground truth (Sec. 4.4, ``L1``)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from sair_toolbox.registry import LOSSES
from sair_toolbox.utils.errors import ConfigError, ShapeError


@LOSSES.register_module()
class L1Loss(nn.Module):
    """``loss_weight * mean |pred - target|``, computed in float32 whatever the autocast dtype.

    :class:`~sair_toolbox.models.sair.SAIR` computes its own ``loss_rec`` (the same formula on the
    [-1, 1] scale at its training queries); this module is the registered form that new
    objectives (e.g. :class:`~sair_toolbox.models.inpaint_gan.InpaintGAN`'s ``pixel_loss``)
    compose. The scale is the caller's: on [-1, 1] images it is twice the value on [0, 1].

    Args:
        loss_weight: multiplier.
        hole_weight: optional extra weight of the hole pixels (``weight = 1 + hole_weight * M``;
            needs ``mask`` in :meth:`forward`); 0 = the plain mean.
    """

    def __init__(self, loss_weight: float = 1.0, hole_weight: float = 0.0):
        super().__init__()
        if hole_weight < 0:
            raise ConfigError(f'L1Loss hole_weight must be >= 0, got {hole_weight}')
        self.loss_weight = float(loss_weight)
        self.hole_weight = float(hole_weight)

    def forward(self, pred: Tensor, target: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Args:
            pred: (B, C, ...) prediction, any float dtype.
            target: same shape as ``pred``.
            mask: (B, 1, ...) 1 = missing, used only with ``hole_weight > 0``.

        Returns:
            scalar float32 loss.
        """
        if pred.shape != target.shape:
            raise ShapeError(f'L1Loss: pred {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ')
        diff = (pred.float() - target.float()).abs()
        if self.hole_weight > 0:
            if mask is None:
                raise ConfigError('L1Loss with hole_weight > 0 needs the mask')
            weight = 1 + self.hole_weight * mask.float()
            return self.loss_weight * (diff * weight).mean() / weight.mean()
        return self.loss_weight * F.l1_loss(pred.float(), target.float())
