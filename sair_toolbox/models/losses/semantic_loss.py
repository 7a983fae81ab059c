"""The paper's semantic loss: ``alpha * |SIR(grid centres) - Z_sem(I)|_1`` (Sec. 4.4, ``L2``)."""
import torch.nn.functional as F
from torch import Tensor, nn

from sair_toolbox.registry import LOSSES
from sair_toolbox.utils.errors import ShapeError


@LOSSES.register_module()
class SemanticL1Loss(nn.Module):
    """L1 between the SIR's reconstruction of its own feature grid and the encoder's features of
    the unmasked image, in float32: ``loss_weight * mean |S(x_grid) - Z_sem(I)|``.

    The same number as the ``loss_sem`` of :class:`~sair_toolbox.models.sair.SAIR` (which
    computes it inline) for ``loss_weight = sem_loss_weight``.

    Args:
        loss_weight: ``alpha``.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, recon: Tensor, target: Tensor) -> Tensor:
        """Args:
            recon: (B, c, h, w) SIR at the centres of its ``h x w`` grid.
            target: (B, c, h, w) ``Z_sem`` of the unmasked image (no gradient needed).

        Returns:
            scalar float32 loss.
        """
        if recon.shape != target.shape:
            raise ShapeError(f'SemanticL1Loss: recon {tuple(recon.shape)} and target '
                             f'{tuple(target.shape)} differ')
        return self.loss_weight * F.l1_loss(recon.float(), target.float().detach())
