"""Adversarial losses: non-saturating (Goodfellow et al. 2014) and hinge (Lim & Ye 2017)."""
from typing import Sequence, Union

import torch.nn.functional as F
from torch import Tensor, nn

from sair_toolbox.registry import LOSSES
from sair_toolbox.utils.errors import ConfigError

GAN_TYPES = ('nonsaturating', 'hinge')


@LOSSES.register_module()
class AdversarialLoss(nn.Module):
    """Generator and discriminator sides of a GAN loss on raw (logit) discriminator outputs.

    ============== ======================================== ===========================
    ``gan_type``   discriminator (real ``r``, fake ``f``)   generator (fake ``f``)
    ============== ======================================== ===========================
    nonsaturating  ``softplus(-r) + softplus(f)``           ``softplus(-f)``
    hinge          ``relu(1 - r) + relu(1 + f)``            ``-f``
    ============== ======================================== ===========================

    Each side is called per term: ``loss(real_logits, target_is_real=True, is_disc=True) +
    loss(fake_logits, target_is_real=False, is_disc=True)`` for the discriminator,
    ``loss(fake_logits, target_is_real=True, is_disc=False)`` for the generator. Logits may be a
    list (one map per scale of a multi-scale discriminator): the loss is the mean over scales of
    each map's mean. Computed in float32.

    Args:
        gan_type: ``'nonsaturating'`` or ``'hinge'``.
        loss_weight: multiplier of the generator side only (the discriminator's own loss is
            never weighted, as in mmagic's ``GANLoss``).
    """

    def __init__(self, gan_type: str = 'nonsaturating', loss_weight: float = 1.0):
        super().__init__()
        if gan_type not in GAN_TYPES:
            raise ConfigError(f'AdversarialLoss gan_type must be one of {GAN_TYPES}, got '
                              f'{gan_type!r}')
        self.gan_type = gan_type
        self.loss_weight = float(loss_weight)

    def _one(self, logits: Tensor, target_is_real: bool, is_disc: bool) -> Tensor:
        x = logits.float()
        if self.gan_type == 'nonsaturating':
            return F.softplus(-x if target_is_real else x).mean()
        if is_disc:
            return F.relu(1 - x if target_is_real else 1 + x).mean()
        if not target_is_real:
            raise ConfigError('the hinge generator loss has no fake target')
        return -x.mean()

    def forward(self, logits: Union[Tensor, Sequence[Tensor]], target_is_real: bool,
                is_disc: bool = False) -> Tensor:
        """Args:
            logits: (B, 1, h, w) map or a list of maps (one per scale), raw scores.
            target_is_real: whether these logits should be judged real.
            is_disc: the discriminator's side (unweighted) or the generator's (weighted).

        Returns:
            scalar float32 loss.
        """
        maps = [logits] if isinstance(logits, Tensor) else list(logits)
        if not maps:
            raise ConfigError('AdversarialLoss got no logits')
        loss = sum(self._one(m, target_is_real, is_disc) for m in maps) / len(maps)
        return loss if is_disc else self.loss_weight * loss
