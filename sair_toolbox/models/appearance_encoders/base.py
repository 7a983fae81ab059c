"""Shared input handling of appearance encoders."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from sair_toolbox.utils.errors import ShapeError


class BaseAppearanceEncoder(BaseModule):
    """(masked image, mask) -> full-resolution appearance features ``Z_app`` (B, C, H, W).

    Subclasses set ``out_channels`` and implement :meth:`encode` on the 4-channel input
    ``cat(x, M)``, where ``x = (2 I_m - 1) * (1 - M)`` is the masked image in [-1, 1] with holes
    at 0 (mid-grey) and ``M`` is the mask (1 = missing). ``size_divisor`` is the factor the input
    sides must be divisible by; other sizes are reflect-padded and the output is cropped back.

    Memory layout: with ``channels_last`` (an ``__init__`` option of every subclass, default
    True) the convolutions run on NHWC tensors and the features come back NHWC (a
    ``torch.channels_last`` tensor of the same shape and values). oneDNN's CPU convolutions are
    faster in that layout, and the implicit heads' projection and row table want it anyway: a
    demo SAIR training step 309 -> 248 ms on 2 CPU cores, the same losses
    (``tools/benchmark.py --suite demo-step``). NHWC is also cuDNN's preferred layout for half
    precision; GPUs were not measured here.
    """

    out_channels: int
    size_divisor: int = 1
    channels_last: bool = True

    def forward(self, img_masked: Tensor, mask: Tensor) -> Tensor:
        """Appearance features.

        Args:
            img_masked: (B, 3, H, W) masked image ``I * (1 - M)`` in [0, 1].
            mask: (B, 1, H, W) in {0, 1}, 1 = missing.

        Returns:
            (B, out_channels, H, W).
        """
        if img_masked.dim() != 4 or img_masked.shape[1] != 3:
            raise ShapeError(f'{type(self).__name__} expects a (B, 3, H, W) image, got '
                             f'{tuple(img_masked.shape)}')
        if mask.shape[0] != img_masked.shape[0] or mask.shape[1] != 1 or \
                mask.shape[-2:] != img_masked.shape[-2:]:
            raise ShapeError(f'{type(self).__name__}: mask {tuple(mask.shape)} does not match '
                             f'image {tuple(img_masked.shape)}')
        x = torch.cat([(img_masked * 2 - 1) * (1 - mask), mask], dim=1)
        h, w = x.shape[-2:]
        d = self.size_divisor
        pad_h, pad_w = (-h) % d, (-w) % d
        if pad_h or pad_w:
            # Reflect padding needs pad < side; replicate covers tiny inputs.
            mode = 'reflect' if pad_h < h and pad_w < w else 'replicate'
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = self.encode(x)
        return out[..., :h, :w]

    def encode(self, x: Tensor) -> Tensor:
        """Features of the (B, 4, H, W) input whose sides are multiples of ``size_divisor``."""
        raise NotImplementedError
