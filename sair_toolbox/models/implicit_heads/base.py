"""The implicit heads' interface, and the local-ensemble decode (Eq. 1) that LIIF and LTE share.

The folder, one concern per file:

* ``base.py``: :class:`BaseImplicitHead` (the interface) and :class:`ProjectedImplicitHead`, whose
  ``_decode`` is Eq. 1 at the queries -- neighbours, per-neighbour hidden activation (the
  subclass's ``_hidden``), blend, last layer, global skip -- once for every such head.
* ``liif_head.py`` / ``lte_head.py``: what differs between LIIF and LTE (their grid convolution and
  the per-neighbour hidden activation).
* ``reference.py``: the plain form of the same computation, transcribed from the official code,
  with the equations; the tests and ``tools/benchmark.py`` compare the heads against it.
* ``neighbours.py`` (neighbour cells, weights and blend), ``chunking.py`` (queries in bounded
  chunks), ``mlp.py`` (the MLP and its fast linear kernel), ``coords.py`` (coordinate
  conventions), ``fold.py`` (folding a linear layer into the grid convolution).
"""
import functools
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from sair_toolbox.utils.errors import ConfigError, ShapeError

from .chunking import chunked_query
from .coords import make_cell, make_coord
from .mlp import linear
from .neighbours import blend_hidden, coord_dtype, find_neighbours


def grid_queries(feat: Tensor, size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
    """Coordinates and cells (B, H * W, 2) of every pixel centre of an ``H x W`` grid, in float32
    (float64 for a float64 ``feat``) whatever the autocast or feature dtype."""
    b = feat.shape[0]
    dtype = torch.promote_types(feat.dtype, torch.float32)
    coord = make_coord(size, device=feat.device, dtype=dtype).unsqueeze(0).expand(b, -1, -1)
    # One cell for all queries, expanded (a view): no per-pixel copy at large outputs.
    cell = make_cell(size, 1, b, device=feat.device, dtype=dtype).expand(-1, size[0] * size[1], -1)
    return coord, cell


def sample_skip(skip: Tensor, coord: Tensor) -> Tensor:
    """Bilinear sample of ``skip`` (B, C, h', w') at ``coord`` (B, Q, 2), border padding.

    Returns:
        (B, Q, C), the global skip of LTE (and LIIF with ``global_skip``).
    """
    # Under autocast grid_sample runs in float32 (the skip is not rounded to bfloat16).
    out = F.grid_sample(skip, coord.flip(-1).unsqueeze(1).to(skip.dtype), mode='bilinear',
                        padding_mode='border', align_corners=False)
    return out[:, :, 0, :].permute(0, 2, 1)


def project_nhwc(feat: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    """``F.conv2d(feat, weight, bias)`` with zero padding ``k // 2``, run NHWC.

    The decode reads the projection as a table with one contiguous row per grid cell, i.e. NHWC;
    a convolution on a ``channels_last`` input returns it in that layout, so the table costs no
    transpose (free when ``feat`` is already NHWC, as the appearance encoders return it).

    Returns:
        (B, D, h, w), a ``torch.channels_last`` tensor; the values of the NCHW convolution.
    """
    feat = feat.contiguous(memory_format=torch.channels_last)
    return F.conv2d(feat, weight, bias, padding=weight.shape[-1] // 2)


class DecodeStep(NamedTuple):
    """What every chunk of one :meth:`ProjectedImplicitHead._decode` call shares.

    Attributes:
        grid: ``(h, w)`` of the projection.
        scale: (2,) ``(h, w)`` in the coordinate dtype (relative coordinates and cells are in
            cell units).
        query_weight: the head's weight on the query's own inputs
            (:meth:`ProjectedImplicitHead._query_weight`), prepared once per call.
        last: the last layer, or ``None`` to stop at the blended hidden activation.
    """

    grid: Tuple[int, int]
    scale: Tensor
    query_weight: Optional[Tensor]
    last: Optional[torch.nn.Linear]


class BaseImplicitHead(BaseModule):
    """Interface of a local implicit function over a feature grid.

    A head maps a feature grid ``feat`` (B, C, h, w) and continuous query coordinates to
    ``out_channels`` values per query. Subclasses implement :meth:`forward`; :meth:`query_grid`
    evaluates the head at every pixel centre of an ``H x W`` grid.

    Attributes:
        in_channels (int): channels ``C`` of the feature grid.
        out_channels (int): channels of the output per query.
        global_skip (bool): whether :meth:`forward` adds a bilinear sample of ``skip``.
    """

    in_channels: int
    out_channels: int
    global_skip: bool = False

    def forward(self, feat: Tensor, coord: Tensor, cell: Optional[Tensor] = None,
                skip: Optional[Tensor] = None) -> Tensor:
        """Evaluate the implicit function.

        Args:
            feat: (B, C, h, w) feature grid.
            coord: (B, Q, 2) query coordinates, ``(y, x)`` in ``[-1, 1]`` (see ``coords.py``).
            cell: (B, Q, 2) query cell sizes ``(2/H_out, 2/W_out)``; required when the head
                decodes the cell.
            skip: (B, out_channels, h', w') map bilinearly sampled and added to the output when
                ``global_skip`` is set; ignored otherwise.

        Returns:
            (B, Q, out_channels) values at the queries.
        """
        raise NotImplementedError

    def query_grid(self, feat: Tensor, size: Tuple[int, int],
                   skip: Optional[Tensor] = None) -> Tensor:
        """Evaluate at every pixel centre of an ``H x W`` grid covering the same domain.

        Args:
            feat: (B, C, h, w) feature grid.
            size: output ``(H, W)``.
            skip: see :meth:`forward`.

        Returns:
            (B, out_channels, H, W).
        """
        coord, cell = grid_queries(feat, size)
        out = self.forward(feat, coord, cell, skip)
        return out.transpose(1, 2).reshape(feat.shape[0], self.out_channels, *size)

    def check_feat(self, feat: Tensor, channels: Optional[int] = None,
                   what: str = 'feat') -> None:
        """Raise :class:`ShapeError` unless ``feat`` is (B, ``channels``, h, w) (default
        ``in_channels``); ``what`` names it in the message."""
        name = type(self).__name__
        if feat.dim() != 4:
            raise ShapeError(f'{name}: {what} must be 4-D (B, C, h, w), got shape '
                             f'{tuple(feat.shape)}')
        if channels is None and feat.shape[1] != self.in_channels:
            raise ShapeError(f'{name}: {what} has {feat.shape[1]} channels, expected '
                             f'in_channels={self.in_channels}')
        if channels is not None and feat.shape[1] != channels:
            raise ShapeError(f'{name}: {what} has {feat.shape[1]} channels, expected {channels}')

    def check_inputs(self, feat: Tensor, coord: Tensor, cell: Optional[Tensor],
                     skip: Optional[Tensor], need_cell: bool, projected: bool = False,
                     need_skip: bool = True) -> None:
        """Raise :class:`ShapeError` (one line) unless the inputs of :meth:`forward` fit.

        Args:
            feat, coord, cell, skip: the arguments of :meth:`forward`.
            need_cell: whether this head decodes ``cell``.
            projected: ``feat`` is a projection (``ProjectedImplicitHead.project``) with
                ``proj_channels`` channels.
            need_skip: check ``skip`` when ``global_skip`` is set.
        """
        name = type(self).__name__
        if projected:
            self.check_feat(feat, self.proj_channels, 'proj')
        else:
            self.check_feat(feat)
        if coord.dim() != 3 or coord.shape[-1] != 2:
            raise ShapeError(f'{name}: coord must be (B, Q, 2), got shape {tuple(coord.shape)}')
        if coord.shape[0] != feat.shape[0]:
            raise ShapeError(f'{name}: batch mismatch, feat has B={feat.shape[0]} but coord has '
                             f'B={coord.shape[0]}')
        if need_cell:
            if cell is None:
                raise ShapeError(f'{name}: cell (B, Q, 2) is required (this head decodes the '
                                 f'cell), got None')
            if tuple(cell.shape) != tuple(coord.shape):
                raise ShapeError(f'{name}: cell must have the shape of coord '
                                 f'{tuple(coord.shape)}, got {tuple(cell.shape)}')
        if self.global_skip and need_skip:
            if skip is None:
                raise ShapeError(f'{name}: global_skip=True needs skip (B, {self.out_channels}, '
                                 f"h', w'), got None")
            if (skip.dim() != 4 or skip.shape[0] != feat.shape[0]
                    or skip.shape[1] != self.out_channels):
                raise ShapeError(f"{name}: skip must be (B={feat.shape[0]}, "
                                 f"{self.out_channels}, h', w'), got {tuple(skip.shape)}")


class ProjectedImplicitHead(BaseImplicitHead):
    """A head whose only use of the feature grid is a linear ``k x k`` convolution of it, decoded
    by the local ensemble of Eq. 1.

    ``forward(feat, ...) == decode(project(feat), ...)``: :meth:`project` is the convolution
    (weight and bias from :meth:`projection`, zero padding ``k // 2``), :meth:`decode` everything
    after it. The split lets a caller build the projection another way when its input is itself a
    linear map of something smaller (``SAIR``'s fold of the SIR's last layer into AIR,
    :func:`~sair_toolbox.models.implicit_heads.fold.folded_projection`). :meth:`decode_hidden`
    stops before the last (linear) layer, :attr:`last_layer`: the blended last hidden activation,
    which that layer maps to the output (plus the global skip, if any).

    The decode (:meth:`_decode`, the same for every such head) evaluates Eq. 1,
    ``c_p = sum_q w_q f(z_q, dist(p, q))``, with exact shortcuts (the plain form is
    :mod:`~sair_toolbox.models.implicit_heads.reference`):

    1. the projection is a table with one row per grid cell; each query and neighbour *gathers*
       its cell's row by integer index (:func:`~.neighbours.find_neighbours`, bitwise the cells
       of the official ``grid_sample``);
    2. the subclass's :meth:`_hidden` maps the gathered rows, the relative coordinates and the
       query's own term (:meth:`_query_term`, e.g. of its cell) to the MLP's last hidden
       activation;
    3. the weights sum to 1 and the last layer is affine, so the neighbours' hidden activations
       are blended first (:func:`~.neighbours.blend_hidden`, skipping neighbours with weight
       ``<= prune_eps``) and the last layer runs once per query;
    4. queries run in chunks of ``chunk_size`` (:func:`~.chunking.chunked_query`), recomputed in
       the backward pass with ``use_checkpoint`` while training; the global skip is added last.

    Subclasses set ``proj_channels`` (``D``), ``needs_cell`` and the decode options
    (:meth:`_set_decode_options`), and implement :meth:`projection`, :attr:`last_layer`,
    :meth:`_hidden` and, where they need them, :meth:`_query_weight` and :meth:`_query_term`.

    Precision: coordinates, cells and ensemble weights in float32 (float64 for a float64 grid,
    :func:`~.neighbours.coord_dtype`) whatever the autocast dtype; the blend and the global skip in
    float32; :meth:`_hidden` documents its own.
    """

    proj_channels: int
    needs_cell: bool = False
    # Set by _set_decode_options.
    local_ensemble: bool
    chunk_size: Optional[int]
    use_checkpoint: bool
    prune_eps: float

    def _set_decode_options(self, local_ensemble: bool, global_skip: bool,
                            chunk_size: Optional[int], use_checkpoint: bool,
                            prune_eps: float) -> None:
        """Check and store the options of :meth:`_decode` (see the subclasses' ``Args``)."""
        if chunk_size is not None and chunk_size < 1:
            raise ConfigError(f'{type(self).__name__}: chunk_size must be >= 1, got {chunk_size}')
        self.local_ensemble = local_ensemble
        self.global_skip = global_skip
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        self.use_checkpoint = use_checkpoint
        self.prune_eps = float(prune_eps)

    def projection(self) -> Tuple[Tensor, Tensor]:
        """``(weight (D, in_channels, k, k), bias (D,))`` of the grid convolution."""
        raise NotImplementedError

    @property
    def last_layer(self) -> torch.nn.Linear:
        """The last (linear) layer, applied to the output of :meth:`decode_hidden`."""
        raise NotImplementedError

    def _query_weight(self, table_dtype: torch.dtype,
                      coord_dtype: torch.dtype) -> Optional[Tensor]:
        """The head's weight on the query's own inputs (relative coordinate, cell), prepared once
        per :meth:`_decode` call and handed to :meth:`_query_term` and :meth:`_hidden`.

        Args:
            table_dtype: dtype of the gathered projection rows.
            coord_dtype: dtype of coordinates and cells.
        """
        return None

    def _query_term(self, rel_cell: Optional[Tensor],
                    query_weight: Optional[Tensor]) -> Optional[Tensor]:
        """The per-query term of a chunk, shared by the query's neighbours: by default the
        relative cell itself.

        Args:
            rel_cell: (N, 2) ``cell * (h, w)``, or ``None`` when the head reads no cell.
            query_weight: from :meth:`_query_weight`.

        Returns:
            (N, F) or ``None``; handed to :meth:`_hidden` as ``term``.
        """
        return rel_cell

    def _hidden(self, table: Tensor, term: Optional[Tensor], query_weight: Optional[Tensor],
                index: Tensor, rel_coord: Tensor, query: Optional[Tensor]) -> Tensor:
        """``f`` of Eq. 1 up to its last hidden activation, for ``M`` (query, neighbour) rows.

        Args:
            table: (rows, D) the projection, one row per grid cell (of the chunk's batch
                elements).
            term: (N, F) the chunk's per-query term (:meth:`_query_term`).
            query_weight: from :meth:`_query_weight`.
            index: (M,) the row of each (query, neighbour) pair's cell in ``table``.
            rel_coord: (M, 2) ``(p - cell centre) * (h, w)``.
            query: (M,) the query of each row, or ``None`` when the rows are ``K`` consecutive
                blocks of the ``N`` queries (see :data:`~.neighbours.HiddenFn`).

        Returns:
            (M, last_layer.in_features).
        """
        raise NotImplementedError

    def _decode(self, proj: Tensor, coord: Tensor, cell: Optional[Tensor],
                skip: Optional[Tensor], hidden: bool) -> Tensor:
        """Everything after the grid convolution: Eq. 1 at the queries (steps in the class
        docstring).

        Args:
            proj: (B, D, h, w) the projection.
            coord, cell, skip: see :meth:`BaseImplicitHead.forward` (checked by the caller).
            hidden: stop at the blended hidden activation (no last layer, no skip).

        Returns:
            (B, Q, out_channels), or (B, Q, last_layer.in_features) with ``hidden``; in the
            autocast dtype under autocast, float32 once the global skip is added.
        """
        b, _, h, w = proj.shape
        cdtype = coord_dtype(proj)
        coord = coord.to(cdtype)
        cell = cell.to(cdtype) if (self.needs_cell and cell is not None) else None
        if coord.shape[1] == 0:
            width = self.last_layer.in_features if hidden else self.out_channels
            return proj.new_zeros(b, 0, width)
        # One row per cell, contiguous (a plain reshape of the permuted NCHW result would be a
        # column-major view, and every gather of a row would then be strided); no copy when
        # proj is channels_last (project_nhwc).
        table = proj.permute(0, 2, 3, 1).contiguous().view(b, h * w, -1)
        step = DecodeStep(grid=(h, w),
                          scale=torch.tensor([h, w], dtype=cdtype, device=proj.device),
                          query_weight=self._query_weight(table.dtype, cdtype),
                          last=None if hidden else self.last_layer)
        out = chunked_query(functools.partial(self._decode_chunk, step), table, coord, cell,
                            self.chunk_size, self.use_checkpoint and self.training)
        if self.global_skip and not hidden:
            out = out + sample_skip(skip, coord)
        return out

    def _decode_chunk(self, step: DecodeStep, table: Tensor, coord: Tensor,
                      cell: Optional[Tensor], offset: Optional[Tensor]) -> Tensor:
        """One chunk of :meth:`_decode` (a :data:`~.chunking.ChunkFn`): (N, out) for the
        chunk's ``N`` queries."""
        nbrs = find_neighbours(coord, step.grid, self.local_ensemble, offset)
        term = self._query_term(None if cell is None else cell * step.scale, step.query_weight)
        hidden_fn = functools.partial(self._hidden, table, term, step.query_weight)
        blended = blend_hidden(nbrs, hidden_fn, self.prune_eps)
        return blended if step.last is None else linear(blended, step.last)

    def project(self, feat: Tensor) -> Tensor:
        """The grid convolution: (B, in_channels, h, w) -> (B, D, h, w).

        Under autocast it runs (and returns) in the autocast dtype, like any convolution. It
        runs NHWC and returns a ``channels_last`` tensor (:func:`project_nhwc`).
        """
        self.check_feat(feat)
        weight, bias = self.projection()
        return project_nhwc(feat, weight, bias)

    def forward(self, feat: Tensor, coord: Tensor, cell: Optional[Tensor] = None,
                skip: Optional[Tensor] = None) -> Tensor:
        """See :meth:`BaseImplicitHead.forward`."""
        self.check_inputs(feat, coord, cell, skip, need_cell=self.needs_cell)
        return self._decode(self.project(feat), coord, cell, skip, hidden=False)

    def decode(self, proj: Tensor, coord: Tensor, cell: Optional[Tensor] = None,
               skip: Optional[Tensor] = None) -> Tensor:
        """:meth:`forward` from the projection ``proj`` (B, D, h, w): (B, Q, out_channels)."""
        self.check_inputs(proj, coord, cell, skip, need_cell=self.needs_cell, projected=True)
        return self._decode(proj, coord, cell, skip, hidden=False)

    def decode_hidden(self, proj: Tensor, coord: Tensor,
                      cell: Optional[Tensor] = None) -> Tensor:
        """Blended last hidden activations (B, Q, last_layer.in_features) at the queries.

        ``last_layer(decode_hidden(p, c, cl)) (+ skip) == decode(p, c, cl, skip)``.
        """
        self.check_inputs(proj, coord, cell, None, need_cell=self.needs_cell, projected=True,
                          need_skip=False)
        return self._decode(proj, coord, cell, None, hidden=True)

    def decode_grid(self, proj: Tensor, size: Tuple[int, int], skip: Optional[Tensor] = None,
                    hidden: bool = False) -> Tensor:
        """:meth:`decode` (or :meth:`decode_hidden`) at every pixel centre of an ``H x W`` grid:
        (B, out_channels or D_hidden, H, W)."""
        coord, cell = grid_queries(proj, size)
        out = (self.decode_hidden(proj, coord, cell) if hidden else
               self.decode(proj, coord, cell, skip))
        return out.transpose(1, 2).reshape(proj.shape[0], -1, *size)

    def query_grid(self, feat: Tensor, size: Tuple[int, int],
                   skip: Optional[Tensor] = None) -> Tensor:
        """See :meth:`BaseImplicitHead.query_grid`."""
        self.check_feat(feat)
        return self.decode_grid(self.project(feat), size, skip)
