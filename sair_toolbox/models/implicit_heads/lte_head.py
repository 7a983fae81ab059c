"""LTE: local texture estimator (Lee & Jin, CVPR 2022), an alternative implicit head."""
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from sair_toolbox.registry import IMPLICIT_HEADS
from sair_toolbox.utils.errors import ConfigError
from .base import ProjectedImplicitHead
from .mlp import apply_middle_layers, build_mlp, linear
from .neighbours import add_query_term_


@IMPLICIT_HEADS.register_module()
class LTEHead(ProjectedImplicitHead):
    """LTE's ``query_rgb`` over a feature grid, computed with exact algebraic shortcuts. The
    plain form of this computation:
    :func:`~sair_toolbox.models.implicit_heads.reference.lte_query`.

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

    Fast path (the shared decode of :class:`~.base.ProjectedImplicitHead`, with LTE's estimator
    in :meth:`projection`, :meth:`_query_term` and :meth:`_hidden`): ``coef`` and ``freq`` come
    from one convolution of the grid and are gathered per
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
        self._set_decode_options(local_ensemble, global_skip, chunk_size, use_checkpoint,
                                 prune_eps)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.hidden_channels = int(hidden_channels)
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

    def _query_weight(self, table_dtype: torch.dtype, coord_dtype: torch.dtype) -> Tensor:
        """The phase layer's weight (hidden / 2, 2), in the coordinate dtype (float32)."""
        return self.phase.weight.to(coord_dtype)

    def _query_term(self, rel_cell: Tensor, query_weight: Tensor) -> Tensor:
        """The phase ``Linear(rel_cell)`` (N, hidden / 2) of the chunk's queries.

        The 2-input Linear (no bias) is written elementwise, so that it stays float32 under
        autocast.
        """
        return torch.addcmul(rel_cell[:, :1] * query_weight[:, 0], rel_cell[:, 1:],
                             query_weight[:, 1])

    def _hidden(self, table: Tensor, term: Tensor, query_weight: Tensor, index: Tensor,
                rel_coord: Tensor, query: Optional[Tensor]) -> Tensor:
        """LTE's estimator up to the MLP's last hidden activation (see
        :meth:`ProjectedImplicitHead._hidden`; ``term`` is the phase).

        Precision: the sinusoid argument ``x`` and its cos/sin in float32 whatever the autocast
        dtype (``pi x`` reaches tens of radians, where bfloat16 cannot resolve a period);
        ``coef``/``freq`` gathered in the projection's dtype; the MLP in the autocast dtype.
        """
        hid = self.hidden_channels
        # Two gathers of half-width rows: each result stays below glibc's mmap threshold
        # (32 MiB) at the default chunk, so its pages are reused instead of re-faulted.
        coef = table[:, :hid].index_select(0, index)
        # LTE splits freq into (y, x) pairs: channel 2k goes with r_y, 2k + 1 with r_x.
        freq = table[:, hid:].index_select(0, index).view(-1, hid // 2, 2)
        # Low-precision freq times float32 rel promotes: x is float32.
        x = torch.addcmul(freq[..., 0] * rel_coord[:, :1], freq[..., 1], rel_coord[:, 1:])
        x = add_query_term_(x, term, query).mul_(math.pi)
        inp = coef * torch.cat([torch.cos(x), torch.sin(x)], dim=-1)
        return apply_middle_layers(self.mlp, linear(inp, self.mlp[0], relu=True))
