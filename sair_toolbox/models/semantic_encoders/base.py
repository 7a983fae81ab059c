"""Shared behaviour of frozen semantic encoders."""
from typing import Tuple

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor


class BaseSemanticEncoder(BaseModule):
    """A frozen dense encoder: (B, 3, H, W) image in [0, 1] -> (B, c, h, w) features.

    Subclasses set ``out_channels`` and ``patch_size`` and implement :meth:`encode` on an input
    whose sides are multiples of ``patch_size``. :meth:`forward` resizes any input to the nearest
    such size (bilinear, at least one patch), so that the ``h x w`` grid covers exactly the
    image's ``[-1, 1]^2`` domain, as the implicit heads assume. Normalisation (the encoder's own
    mean/std) happens inside :meth:`encode`.

    The encoder is frozen: parameters do not require grad and :meth:`train` keeps it in eval mode,
    whatever the Runner asks.
    """

    out_channels: int
    patch_size: int

    def freeze(self) -> None:
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True):
        # Frozen encoders stay in eval mode (dropout/LayerNorm statistics), as the paper uses them.
        return super().train(False)

    def grid_size(self, height: int, width: int) -> Tuple[int, int]:
        """Feature-grid size ``(h, w)`` for an ``H x W`` input."""
        p = self.patch_size
        return max(1, round(height / p)), max(1, round(width / p))

    def forward(self, img: Tensor) -> Tensor:
        """Dense features.

        Args:
            img: (B, 3, H, W) float RGB in [0, 1], any H and W.

        Returns:
            (B, out_channels, h, w) with ``(h, w) = grid_size(H, W)``.
        """
        h, w = self.grid_size(*img.shape[-2:])
        size = (h * self.patch_size, w * self.patch_size)
        if tuple(img.shape[-2:]) != size:
            img = F.interpolate(img, size=size, mode='bilinear', align_corners=False)
        return self.encode(img)

    def encode(self, img: Tensor) -> Tensor:
        """Features of an input whose sides are multiples of ``patch_size`` (in [0, 1])."""
        raise NotImplementedError
