"""R1 gradient penalty on real images (Mescheder et al. 2018), as StyleGAN2 and CoModGAN use."""
from typing import Sequence, Union

import torch
from torch import Tensor, nn

from sair_toolbox.registry import LOSSES
from sair_toolbox.utils.errors import ConfigError


@LOSSES.register_module()
class R1Penalty(nn.Module):
    """``loss_weight * E_x[ |grad_x D(x)|^2 ]`` over real images ``x`` (``loss_weight = gamma/2``).

    The real images must require grad before the discriminator sees them; the penalty is
    differentiable (``create_graph=True``), so it trains the discriminator.

    Args:
        loss_weight: ``gamma / 2``; 0 disables it (then :meth:`forward` returns 0 at no cost).
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        if loss_weight < 0:
            raise ConfigError(f'R1Penalty loss_weight must be >= 0, got {loss_weight}')
        self.loss_weight = float(loss_weight)

    def forward(self, real_logits: Union[Tensor, Sequence[Tensor]], real: Tensor) -> Tensor:
        """Args:
            real_logits: (B, 1, h, w) map or list of maps of the discriminator on ``real``.
            real: (B, C, H, W) the discriminator's real input, with ``requires_grad=True``.

        Returns:
            scalar float32 penalty.
        """
        if self.loss_weight == 0:
            return real.new_zeros((), dtype=torch.float32)
        if not real.requires_grad:
            raise ConfigError('R1Penalty needs the real images to require grad')
        maps = [real_logits] if isinstance(real_logits, Tensor) else list(real_logits)
        total = sum(m.float().sum() for m in maps)
        grad, = torch.autograd.grad(total, real, create_graph=True)
        return self.loss_weight * grad.float().pow(2).flatten(1).sum(1).mean()
