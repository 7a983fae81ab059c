"""LTE: local texture estimator (Lee & Jin, CVPR 2022), an alternative implicit head."""
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from sair_toolbox.registry import IMPLICIT_HEADS
from sair_toolbox.utils.errors import ConfigError
from .base import ProjectedImplicitHead
from .local_ensemble import (add_query_term_, apply_middle_layers, blend_hidden, build_mlp,
                             chunked_query, coord_dtype, find_neighbours, linear, sample_skip)


@IMPLICIT_HEADS.register_module()
class LTEHead(ProjectedImplicitHead):
    """LTE's ``query_rgb`` over a feature grid, computed with exact algebraic shortcuts.

    Semantics are those of the official implementation: amplitude ``coef = Conv3x3(feat)`` and
    frequency ``freq = Conv3x3(feat)`` (``hidden_channels`` each), phase ``Linear(2 -> hidden / 2,
    no bias)`` of the relative cell ``cell * (h, w)``. For each of the 4 nearest cells (same local
    ensemble as LIIF) with relative coordinate ``r = (p - q) * (h, w)``::

        x_k   = freq[2k] * r_y + freq[2k + 1] * r_x + phase_k          (k < hidden / 2)
        input = coef * cat(cos(pi x), sin(pi x))
        pred  = MLP(input)

    blended with the diagonally swapped, normalised areas, plus the global bilinear skip of
    ``skip`` (border padding; LTE's skip of the low-resolution input) when ``global_skip``.
    ``mlp_hidden=(256, 256, 256)`` is LTE's ``hidden_list`` (four ``Linear`` layers).

    Fast path: ``coef`` and ``freq`` come from one convolution of the grid and are gathered per
    neighbour by integer cell index (no ``grid_sample``); the last hidden activations are blended
    before the last layer; neighbours with weight ``<= prune_eps`` are skipped (at the grid's own
    pixel centres one MLP evaluation per query instead of 4); queries run in chunks of
    ``chunk_size`` (optionally checkpointed). Gradients with respect to ``feat`` and all parameters
    match the plain form; ``coord``/``cell`` are treated as data.

    Args:
        in_channels: channels ``C`` of the feature grid.
        out_channels: channels of each prediction (and of ``skip``).
        hidden_channels: width of ``coef`` / ``freq`` (even; the MLP's input width).
        mlp_hidden: hidden widths of the MLP (at least one).
        local_ensemble: blend the 4 nearest cells; otherwise decode the nearest cell only.
        global_skip: add ``skip`` (B, out_channels, h', w') sampled bilinearly.
        chunk_size: queries per chunk; ``None``: 4096 on CPU, 65536 on accelerators.
        use_checkpoint: recompute each chunk in the backward pass.
        prune_eps: neighbours whose normalised weight is at most this are skipped (0 keeps all).
        init_cfg: MMEngine init config.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 256,
                 mlp_hidden: Sequence[int] = (256, 256, 256), local_ensemble: bool = True,
                 global_skip: bool = True, chunk_size: Optional[int] = None,
                 use_checkpoint: bool = False, prune_eps: float = 1e-8,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        mlp_hidden = tuple(int(c) for c in mlp_hidden)
        if hidden_channels < 2 or hidden_channels % 2:
            raise ConfigError(f'LTEHead: hidden_channels must be even (cos/sin halves), got '
                              f'{hidden_channels}')
        if not mlp_hidden:
            raise ConfigError('LTEHead: mlp_hidden needs at least one hidden width, got ()')
        if chunk_size is not None and chunk_size < 1:
            raise ConfigError(f'LTEHead: chunk_size must be >= 1, got {chunk_size}')
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.hidden_channels = int(hidden_channels)
        self.local_ensemble = local_ensemble
        self.global_skip = global_skip
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        self.use_checkpoint = use_checkpoint
        self.prune_eps = float(prune_eps)
        self.coef = nn.Conv2d(self.in_channels, self.hidden_channels, 3, padding=1)
        self.freq = nn.Conv2d(self.in_channels, self.hidden_channels, 3, padding=1)
        self.phase = nn.Linear(2, self.hidden_channels // 2, bias=False)
        self.mlp = build_mlp(self.hidden_channels, mlp_hidden, self.out_channels)

    @property
    def proj_channels(self) -> int:
        return 2 * self.hidden_channels

    needs_cell = True

    @property
    def last_layer(self) -> nn.Linear:
        return self.mlp[-1]

    def projection(self) -> Tuple[Tensor, Tensor]:
        """``coef`` and ``freq`` as one 3x3 conv: rows of the projection are ``[coef | freq]``."""
        weight = torch.cat([self.coef.weight, self.freq.weight], dim=0)
        bias = torch.cat([self.coef.bias, self.freq.bias], dim=0)
        return weight, bias

    def _decode(self, proj: Tensor, coord: Tensor, cell: Optional[Tensor],
                skip: Optional[Tensor], hidden: bool) -> Tensor:
        """Everything after the ``[coef | freq]`` convolution (see ``ProjectedImplicitHead``).

        Precision: coordinates, cells, phase, the sinusoid argument ``x`` and its cos/sin in
        float32 whatever the autocast dtype (``pi x`` reaches tens of radians, where bfloat16
        cannot resolve a period); ``coef``/``freq`` gathered in the projection's dtype; the MLP
        in the autocast dtype; blend and global skip in float32.
        """
        b, _, h, w = proj.shape
        cdtype = coord_dtype(proj)
        coord = coord.to(cdtype)
        cell = cell.to(cdtype)
        last = None if hidden else self.mlp[-1]
        if coord.shape[1] == 0:
            width = self.mlp[-1].in_features if hidden else self.out_channels
            return proj.new_zeros(b, 0, width)

        hid = self.hidden_channels
        # Contiguous rows (a reshape of the permuted result would be a column-major view).
        table = proj.permute(0, 2, 3, 1).contiguous().view(b, h * w, 2 * hid)
        scale = torch.tensor([h, w], dtype=cdtype, device=proj.device)
        w_phase = self.phase.weight.to(cdtype)

        def chunk_fn(tab: Tensor, crd: Tensor, cll: Tensor, offset: Optional[Tensor]) -> Tensor:
            nbrs = find_neighbours(crd, (h, w), self.local_ensemble, offset)
            # The 2-input phase Linear (no bias) elementwise, so that it stays float32.
            rel_cell = cll * scale
            phase = torch.addcmul(rel_cell[:, :1] * w_phase[:, 0], rel_cell[:, 1:], w_phase[:, 1])

            def hidden_fn(index: Tensor, rel: Tensor, query: Optional[Tensor]) -> Tensor:
                # Two gathers of half-width rows: each result stays below glibc's mmap threshold
                # (32 MiB) at the default chunk, so its pages are reused instead of re-faulted.
                coef = tab[:, :hid].index_select(0, index)
                # LTE splits freq into (y, x) pairs: channel 2k goes with r_y, 2k + 1 with r_x.
                freq = tab[:, hid:].index_select(0, index).view(-1, hid // 2, 2)
                # Low-precision freq times float32 rel promotes: x is float32.
                x = torch.addcmul(freq[..., 0] * rel[:, :1], freq[..., 1], rel[:, 1:])
                x = add_query_term_(x, phase, query).mul_(math.pi)
                inp = coef * torch.cat([torch.cos(x), torch.sin(x)], dim=-1)
                return apply_middle_layers(self.mlp, linear(inp, self.mlp[0], relu=True))

            blended = blend_hidden(nbrs, hidden_fn, self.prune_eps)
            return blended if last is None else linear(blended, last)

        out = chunked_query(chunk_fn, table, coord, cell, self.chunk_size,
                            self.use_checkpoint and self.training)
        if self.global_skip and not hidden:
            out = out + sample_skip(skip, coord)
        return out
