"""LIIF: local implicit image function (Chen et al., CVPR 2021), for SIR (Eq. 4) and AIR (Eq. 5)."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from sair_toolbox.registry import IMPLICIT_HEADS
from sair_toolbox.utils.errors import ConfigError
from .base import ProjectedImplicitHead
from .mlp import apply_middle_layers, build_mlp
from .neighbours import rows_of


@IMPLICIT_HEADS.register_module()
class LIIFHead(ProjectedImplicitHead):
    """LIIF's ``query_rgb`` over a feature grid (Eq. 1; SIR's Eq. 4 and AIR's Eq. 5), computed
    with exact algebraic shortcuts. The plain form of this computation:
    :func:`~sair_toolbox.models.implicit_heads.reference.liif_query`.

    Semantics are exactly those of the official implementation: the grid is unfolded 3x3 (zero
    padding); each query is decoded from its 4 nearest cells (local ensemble, shift ``1e-6``,
    clamp to ``(-1 + 1e-6, 1 - 1e-6)``) by an MLP on ``[z_q, (p - q) * (h, w), cell * (h, w)]``;
    the 4 predictions are blended with the areas ``|dy * dx| + 1e-9`` of the diagonally opposite
    neighbours, normalised by their sum.

    The paper's MLP is "four-layer with ReLU, hidden 256": ``hidden_channels=(256, 256, 256)``
    gives four ``Linear`` layers (in -> 256 -> 256 -> 256 -> out) with ReLU between them, which is
    also LIIF's own ``hidden_list``. The layers are plain ``nn.Linear`` modules in ``self.mlp``
    (``mlp.0`` ... ``mlp.6``), so checkpoints hold the MLP of the official formulation.

    Fast path (all exact up to float rounding; the shared decode of
    :class:`~.base.ProjectedImplicitHead`, with LIIF's first layer in :meth:`projection` and
    :meth:`_hidden`):

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
            ``None``: 4096 on CPU, 65536 on accelerators (``chunking.default_chunk_size``).
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
        self._set_decode_options(local_ensemble, global_skip, chunk_size, use_checkpoint,
                                 prune_eps)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.hidden_channels = hidden_channels
        self.feat_unfold = feat_unfold
        self.cell_decode = cell_decode
        self.kernel_size = 3 if feat_unfold else 1
        mlp_in = self.in_channels * self.kernel_size**2 + 2 + (2 if cell_decode else 0)
        self.mlp = build_mlp(mlp_in, hidden_channels, self.out_channels)

    @property
    def proj_channels(self) -> int:
        return self.mlp[0].out_features

    @property
    def needs_cell(self) -> bool:
        return self.cell_decode

    @property
    def last_layer(self) -> torch.nn.Linear:
        return self.mlp[-1]

    def projection(self) -> Tuple[Tensor, Tensor]:
        """The feature part of the first layer as a ``k x k`` conv: ``(weight, bias)``."""
        first = self.mlp[0]
        c, k = self.in_channels, self.kernel_size
        # Unfold order is (C, ky, kx), so the Linear weight reshapes to a conv weight.
        return first.weight[:, :c * k * k].reshape(-1, c, k, k), first.bias

    def _query_weight(self, table_dtype: torch.dtype, coord_dtype: torch.dtype) -> Tensor:
        """The rest of the first layer, which acts on ``[rel_coord, rel_cell]`` (2 or 4 inputs):
        its weight transposed, (2 or 4, D), in the table's dtype."""
        n_feat = self.in_channels * self.kernel_size**2
        return self.mlp[0].weight[:, n_feat:].t().to(table_dtype)

    def _hidden(self, table: Tensor, term: Optional[Tensor], query_weight: Tensor,
                index: Tensor, rel_coord: Tensor, query: Optional[Tensor]) -> Tensor:
        """The MLP up to its last hidden activation on ``[z_q, rel_coord, rel_cell]`` (see
        :meth:`ProjectedImplicitHead._hidden`; ``term`` is the relative cell or ``None``).

        Precision: the gathered projection, the coordinate/cell part of the first layer and the
        MLP run in the table's dtype (the autocast dtype under autocast).
        """
        aux = rel_coord
        if term is not None:
            aux = torch.cat([rel_coord, rows_of(term, query, index.shape[0])], dim=-1)
        # Gathered conv projection (bias included) + the coordinate/cell part, in place
        # (in the table's dtype: an in-place addmm is not cast by autocast).
        pre = table.index_select(0, index).addmm_(aux.to(table.dtype), query_weight)
        return apply_middle_layers(self.mlp, torch.relu_(pre))
