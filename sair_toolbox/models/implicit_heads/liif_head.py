"""LIIF: local implicit image function (Chen et al., CVPR 2021), for SIR (Eq. 4) and AIR (Eq. 5)."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from sair_toolbox.registry import IMPLICIT_HEADS
from sair_toolbox.utils.errors import ConfigError
from .base import BaseImplicitHead
from .local_ensemble import (apply_middle_layers, blend_hidden, build_mlp, chunked_query,
                             find_neighbours, linear, rows_of, sample_skip)


@IMPLICIT_HEADS.register_module()
class LIIFHead(BaseImplicitHead):
    """LIIF's ``query_rgb`` over a feature grid, computed with exact algebraic shortcuts.

    Semantics are exactly those of the official implementation: the grid is unfolded 3x3 (zero
    padding); each query is decoded from its 4 nearest cells (local ensemble, shift ``1e-6``,
    clamp to ``(-1 + 1e-6, 1 - 1e-6)``) by an MLP on ``[z_q, (p - q) * (h, w), cell * (h, w)]``;
    the 4 predictions are blended with the areas ``|dy * dx| + 1e-9`` of the diagonally opposite
    neighbours, normalised by their sum.

    The paper's MLP is "four-layer with ReLU, hidden 256": ``hidden_channels=(256, 256, 256)``
    gives four ``Linear`` layers (in -> 256 -> 256 -> 256 -> out) with ReLU between them, which is
    also LIIF's own ``hidden_list``. The layers are plain ``nn.Linear`` modules in ``self.mlp``
    (``mlp.0`` ... ``mlp.6``), so checkpoints hold the MLP of the official formulation.

    Fast path (all exact up to float rounding, see ``tests/.../reference.py`` for the plain form):

    1. The first layer splits into a feature part and a coordinate/cell part. The feature part
       over the unfolded 3x3 neighbourhood is a 3x3 convolution of the grid (the ``Linear``
       weight reshaped), computed once per grid cell; each query and neighbour gathers that
       projection by integer cell index and adds the small map of ``[rel_coord, rel_cell]``.
    2. Weights sum to 1 and the last layer is affine, so the neighbours' last hidden activations
       are blended before the last layer, which then runs once per query.
    3. Neighbours with weight ``<= prune_eps`` are not evaluated. At the pixel centres of the grid
       itself (scale 1) three weights are ``2.5e-10``: one MLP evaluation per query instead of 4.
    4. Queries run in chunks of ``chunk_size`` so memory is bounded at any output size;
       ``use_checkpoint`` also bounds training memory by recomputing chunks in backward.

    Gradients with respect to ``feat`` and all parameters match the plain form; ``coord`` and
    ``cell`` are treated as data (their gradients are not part of the contract).

    Args:
        in_channels: channels ``C`` of the feature grid.
        out_channels: channels of each prediction.
        hidden_channels: widths of the MLP's hidden layers (at least one).
        feat_unfold: concatenate the 3x3 neighbourhood of each cell (``9 * C`` features).
        local_ensemble: blend the 4 nearest cells; otherwise decode the nearest cell only.
        cell_decode: feed the query cell ``cell * (h, w)`` to the MLP.
        global_skip: add ``skip`` (B, out_channels, h', w') sampled bilinearly (border padding).
        chunk_size: queries per chunk (activations of ``4 * chunk_size`` rows per layer);
            ``None``: 4096 on CPU, 65536 on accelerators (``local_ensemble.default_chunk_size``).
        use_checkpoint: recompute each chunk in the backward pass (training at large query
            counts without storing all activations).
        prune_eps: neighbours whose normalised weight is at most this are skipped (0 keeps all).
            The default ``1e-8`` changes results by less than float32 rounding.
        init_cfg: MMEngine init config.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: Sequence[int] = (256, 256, 256), feat_unfold: bool = True,
                 local_ensemble: bool = True, cell_decode: bool = True,
                 global_skip: bool = False, chunk_size: Optional[int] = None,
                 use_checkpoint: bool = False, prune_eps: float = 1e-8,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        hidden_channels = tuple(int(c) for c in hidden_channels)
        if not hidden_channels:
            raise ConfigError('LIIFHead: hidden_channels needs at least one hidden width, got ()')
        if chunk_size is not None and chunk_size < 1:
            raise ConfigError(f'LIIFHead: chunk_size must be >= 1, got {chunk_size}')
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.hidden_channels = hidden_channels
        self.feat_unfold = feat_unfold
        self.local_ensemble = local_ensemble
        self.cell_decode = cell_decode
        self.global_skip = global_skip
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        self.use_checkpoint = use_checkpoint
        self.prune_eps = float(prune_eps)
        self.kernel_size = 3 if feat_unfold else 1
        mlp_in = self.in_channels * self.kernel_size**2 + 2 + (2 if cell_decode else 0)
        self.mlp = build_mlp(mlp_in, hidden_channels, self.out_channels)

    def forward(self, feat: Tensor, coord: Tensor, cell: Optional[Tensor] = None,
                skip: Optional[Tensor] = None) -> Tensor:
        """Predict at continuous coordinates.

        Args:
            feat: (B, C, h, w) feature grid.
            coord: (B, Q, 2) ``(y, x)`` in ``[-1, 1]`` (``coords.make_coord`` convention).
            cell: (B, Q, 2) query cell ``(2 / H, 2 / W)``; required when ``cell_decode``.
            skip: (B, out_channels, h', w'); required when ``global_skip``, else ignored.

        Returns:
            (B, Q, out_channels).
        """
        self.check_inputs(feat, coord, cell, skip, need_cell=self.cell_decode)
        b, c, h, w = feat.shape
        coord = coord.to(feat.dtype)
        cell = cell.to(feat.dtype) if (self.cell_decode and cell is not None) else None
        if coord.shape[1] == 0:
            return feat.new_zeros(b, 0, self.out_channels)

        first, last = self.mlp[0], self.mlp[-1]
        n_feat = c * self.kernel_size**2
        width = first.weight.shape[0]
        # Feature part of the first layer == a conv over the grid (unfold order is (C, ky, kx)).
        w_feat = first.weight[:, :n_feat].reshape(width, c, self.kernel_size, self.kernel_size)
        # The rest of the first layer acts on [rel_coord, rel_cell] (2 or 4 inputs per row).
        w_aux = first.weight[:, n_feat:].t()
        proj = F.conv2d(feat, w_feat, first.bias, padding=self.kernel_size // 2)
        # One row per cell, contiguous (a plain reshape of the permuted NCHW result would be a
        # column-major view, and every gather of a row would then be strided).
        table = proj.permute(0, 2, 3, 1).contiguous().view(b, h * w, width)
        scale = torch.tensor([h, w], dtype=feat.dtype, device=feat.device)

        def chunk_fn(tab: Tensor, crd: Tensor, cll: Optional[Tensor],
                     offset: Optional[Tensor]) -> Tensor:
            nbrs = find_neighbours(crd, (h, w), self.local_ensemble, offset)
            rel_cell = None if cll is None else cll * scale
            k_num = nbrs.index.shape[0]

            def hidden_fn(index: Tensor, rel: Tensor, query: Optional[Tensor]) -> Tensor:
                aux = rel
                if rel_cell is not None:
                    aux = torch.cat([rel, rows_of(rel_cell, query, k_num)], dim=-1)
                # Gathered conv projection (bias included) + the coordinate/cell part, in place.
                pre = tab.index_select(0, index).addmm_(aux, w_aux)
                return apply_middle_layers(self.mlp, torch.relu_(pre))

            hidden = blend_hidden(nbrs, hidden_fn, self.prune_eps)
            return linear(hidden, last)

        out = chunked_query(chunk_fn, table, coord, cell, self.chunk_size,
                            self.use_checkpoint and self.training)
        if self.global_skip:
            out = out + sample_skip(skip.to(out.dtype), coord)
        return out
