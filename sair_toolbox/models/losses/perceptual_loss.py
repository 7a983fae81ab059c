"""Perceptual loss: distance between the features of a frozen dense network (LaMa's HRF-PL)."""
from typing import List, Optional, Sequence

import torch
from torch import Tensor, nn

from sair_toolbox.registry import LOSSES, SEMANTIC_ENCODERS
from sair_toolbox.utils.errors import ConfigError, ShapeError

from .torchvision_features import TorchvisionFeatures


@LOSSES.register_module()
class PerceptualLoss(nn.Module):
    """``loss_weight * sum_l w_l * mean d(F_l(pred), F_l(target))`` with a frozen network ``F``.

    In the spirit of LaMa's high-receptive-field perceptual loss (a segmentation network's
    features rather than a classifier's), ``feature_net`` may be any ``SEMANTIC_ENCODERS`` config
    -- a dense encoder such as the project's ``MaskCLIPEncoder`` (one feature map) -- or
    ``dict(type='TorchvisionFeatures', arch=..., layers=..., weights_path=...)``, a torchvision
    backbone from a local weights file (several maps).

    The network is frozen, kept in eval mode, and deliberately *not* a registered submodule: its
    weights come from their own file and stay out of checkpoints and out of DDP's parameters. It
    follows the input's device on first use. Under autocast it runs in the autocast dtype; the
    distance is float32. Gradients flow to ``pred`` only.

    Args:
        feature_net: the network config (see above).
        layer_weights: ``w_l`` per returned map; default 1 each.
        criterion: ``'l2'`` (mean squared error, LaMa) or ``'l1'``.
        loss_weight: multiplier.
    """

    def __init__(self, feature_net: dict, layer_weights: Optional[Sequence[float]] = None,
                 criterion: str = 'l2', loss_weight: float = 1.0):
        super().__init__()
        if criterion not in ('l1', 'l2'):
            raise ConfigError(f"PerceptualLoss criterion must be 'l1' or 'l2', got {criterion!r}")
        cfg = dict(feature_net)
        if cfg.get('type') == 'TorchvisionFeatures':
            cfg.pop('type')
            net = TorchvisionFeatures(**cfg)
        else:
            net = SEMANTIC_ENCODERS.build(cfg)
        net.requires_grad_(False)
        net.eval()
        object.__setattr__(self, 'feature_net', net)  # not a submodule (see the class doc)
        self.layer_weights = None if layer_weights is None else tuple(map(float, layer_weights))
        self.criterion = criterion
        self.loss_weight = float(loss_weight)

    def features(self, img: Tensor) -> List[Tensor]:
        """Feature maps of (B, 3, H, W) images in [0, 1]."""
        net = self.feature_net
        param = next(net.parameters(), None)
        if param is not None and param.device != img.device:
            net.to(img.device)
        out = net(img)
        return [out] if isinstance(out, Tensor) else list(out)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Args:
            pred: (B, 3, H, W) in [0, 1], the generated image (gradients flow to it).
            target: (B, 3, H, W) in [0, 1], the ground truth.

        Returns:
            scalar float32 loss.
        """
        if pred.shape != target.shape or pred.dim() != 4 or pred.shape[1] != 3:
            raise ShapeError(f'PerceptualLoss expects two (B, 3, H, W) images, got '
                             f'{tuple(pred.shape)} and {tuple(target.shape)}')
        fake = self.features(pred)
        with torch.no_grad():
            real = self.features(target)
        weights = self.layer_weights or (1.0, ) * len(fake)
        if len(weights) != len(fake):
            raise ConfigError(f'PerceptualLoss: {len(weights)} layer_weights for {len(fake)} '
                              'feature maps')
        total = pred.new_zeros((), dtype=torch.float32)
        for w, f, r in zip(weights, fake, real):
            d = f.float() - r.float()
            total = total + w * (d.pow(2) if self.criterion == 'l2' else d.abs()).mean()
        return self.loss_weight * total
