"""Semantic implicit representation (SIR, paper Sec. 4.2, Eq. 4)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from sair_toolbox.registry import IMPLICIT_HEADS, SEMANTIC_ENCODERS
from sair_toolbox.utils.errors import ConfigError

from .implicit_heads.base import ProjectedImplicitHead
from .implicit_heads.coords import pixel_queries
from .zero_shot import resize_features


def evaluate_at(fn, where: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """A per-pixel function of an ``H x W`` grid evaluated only where ``where`` is set.

    Args:
        fn: ``fn(coord (B, N, 2), cell (B, N, 2)) -> (B, N, C)``, the function at pixel centres
            (``(y, x)`` in [-1, 1], LIIF's ``make_coord`` values bitwise, and the grid's cell).
        where: (B, 1, H, W) bool, the pixels to evaluate.
        dtype: of the coordinates and cells (float64 for a float64 grid, as the full grid's
            ``grid_queries``).

    Returns:
        (B, C, H, W): ``fn``'s values at the set pixels, zero elsewhere. A batch element with
        fewer set pixels than another repeats its first one (same values, written twice).
    """
    b, _, h, w = where.shape
    index, coord, cell = pixel_queries(where, (h, w), dtype)
    values = fn(coord, cell)  # (B, N, C)
    # (B, H*W, C) viewed as (B, C, H, W): the layout of the full grid's query_grid, so that
    # what reads it (the fusions' reductions over channels) rounds the same way.
    out = values.new_zeros(b, h * w, values.shape[-1])
    out.scatter_(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]), values)
    return out.transpose(1, 2).view(b, -1, h, w)


class SemanticImplicitRepresentation(BaseModule):
    """Frozen semantic encoder + implicit head over ``[Z_sem, M_lr]`` (Eq. 4).

    ``encode`` builds the low-resolution grid ``[Z_sem(I_m), M_lr]`` (B, c + 1, h, w), where
    ``M_lr`` is the missing fraction of each patch. ``field`` evaluates SIR at every pixel centre
    of an ``H x W`` grid, giving the dense semantic field ``S`` that AIR consumes (Eq. 5).

    Without a head (``head=None``, the paper's NFS ablation) the field is the masked ``Z_sem``
    bilinearly resized to ``H x W``: nothing is filled in.

    Args:
        encoder: config of a semantic encoder (``SEMANTIC_ENCODERS``).
        head: config of an implicit head (``IMPLICIT_HEADS``) or ``None``. ``in_channels``
            defaults to ``encoder.out_channels + 1`` and ``out_channels`` to
            ``encoder.out_channels``, so swapping the encoder needs no edit here.
        frozen: freeze the head too (two-stage training: SIR trained first, then loaded with
            ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='sir.')`` and frozen).
    """

    def __init__(self, encoder: dict, head: Optional[dict] = None, frozen: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.encoder = SEMANTIC_ENCODERS.build(encoder)
        self.out_channels = self.encoder.out_channels
        self.head = None
        if head is not None:
            head = dict(head)
            head.setdefault('in_channels', self.out_channels + 1)
            head.setdefault('out_channels', self.out_channels)
            self.head = IMPLICIT_HEADS.build(head)
        self.frozen = frozen
        if frozen and self.head is not None:
            self.head.requires_grad_(False)

    @property
    def trainable(self) -> bool:
        return self.head is not None and not self.frozen

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen and self.head is not None:
            self.head.train(False)
        return self

    def encode(self, img_masked: Tensor, mask: Tensor) -> Tensor:
        """The SIR grid ``[Z_sem(I_m), M_lr]``.

        Args:
            img_masked: (B, 3, H, W) masked image in [0, 1].
            mask: (B, 1, H, W), 1 = missing.

        Returns:
            (B, c + 1, h, w); the last channel is the missing fraction of each patch.
        """
        with torch.no_grad():
            z = self.encoder(img_masked)
        m = F.adaptive_avg_pool2d(mask.to(z.dtype), z.shape[-2:])
        return torch.cat([z, m], dim=1)

    def field(self, grid: Tensor, size: Tuple[int, int],
              where: Optional[Tensor] = None) -> Tensor:
        """SIR evaluated at every pixel centre of an ``H x W`` grid.

        Args:
            grid: (B, c + 1, h, w) from :meth:`encode`.
            size: ``(H, W)``.
            where: optional (B, 1, H, W) bool: evaluate only these pixels (the others are zero;
                the values at these are those of the full field: each pixel is its own query).
                Ignored without a head (the resize is cheap).

        Returns:
            (B, c, H, W) semantic field in the encoder's (text-aligned) space.
        """
        z = grid[:, :-1]
        if self.head is None:
            return resize_features(z, size)
        if where is not None:
            return evaluate_at(lambda coord, cell: self.head(grid, coord, cell, skip=z), where,
                               torch.promote_types(grid.dtype, torch.float32))
        return self.head.query_grid(grid, tuple(size), skip=z)

    @property
    def last_layer(self) -> Optional[nn.Linear]:
        """The head's last layer when the field is exactly ``last_layer(hidden_field(...))``
        (a :class:`ProjectedImplicitHead` without global skip), else ``None``."""
        if isinstance(self.head, ProjectedImplicitHead) and not self.head.global_skip:
            return self.head.last_layer
        return None

    def hidden_field(self, grid: Tensor, size: Tuple[int, int],
                     where: Optional[Tensor] = None) -> Tensor:
        """The head's blended last hidden activation at every pixel centre of an ``H x W``
        grid: (B, D, H, W) with ``field == last_layer(hidden_field)`` per pixel (needs
        :attr:`last_layer`). What SAIR's fold feeds AIR instead of the field. ``where``: see
        :meth:`field`."""
        if self.last_layer is None:
            raise ConfigError(f'SIR head {type(self.head).__name__} has no hidden field to fold '
                              '(needs a LIIFHead/LTEHead without global_skip)')
        proj = self.head.project(grid)
        if where is not None:
            return evaluate_at(lambda coord, cell: self.head.decode_hidden(proj, coord, cell),
                               where, torch.promote_types(proj.dtype, torch.float32))
        return self.head.decode_grid(proj, tuple(size), hidden=True)

    def query(self, grid: Tensor, coord: Tensor, cell: Optional[Tensor] = None) -> Tensor:
        """SIR at arbitrary continuous coordinates: (B, Q, 2) ``(y, x)`` in [-1, 1] -> (B, Q, c)."""
        if self.head is None:
            z = grid[:, :-1]
            out = F.grid_sample(z, coord.flip(-1).unsqueeze(1), mode='bilinear',
                                padding_mode='border', align_corners=False)
            return out[:, :, 0].transpose(1, 2)
        return self.head(grid, coord, cell, skip=grid[:, :-1])

    def reconstruct(self, grid: Tensor) -> Tensor:
        """SIR at the centres of its own ``h x w`` grid (the resolution of the L2 loss)."""
        return self.field(grid, grid.shape[-2:])

    @torch.no_grad()
    def target(self, img: Tensor) -> Tensor:
        """``Z_sem`` of the unmasked image (B, c, h, w): the target of the semantic loss."""
        return self.encoder(img)

    def semantic_loss(self, grid: Tensor, img: Tensor) -> Tensor:
        """The semantic loss L2 of Sec. 4.4 (unweighted): ``|SIR(grid centres) - Z_sem(I)|_1``.

        SIR is evaluated at the centres of its own ``h x w`` grid (:meth:`reconstruct`) and
        compared with the encoder's features of the unmasked image (:meth:`target`); both in
        float32, also under autocast. Used by ``SAIR`` (times ``alpha``) and ``SIRPretrainer``.

        Args:
            grid: (B, c + 1, h, w) from :meth:`encode` of the masked image.
            img: (B, 3, H, W) unmasked image in [0, 1].

        Returns:
            scalar mean absolute error.
        """
        recon = self.reconstruct(grid)
        return F.l1_loss(recon.float(), self.target(img).float())
