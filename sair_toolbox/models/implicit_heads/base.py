"""Small shared interface of implicit heads."""
from typing import Optional, Tuple

from mmengine.model import BaseModule
from torch import Tensor

from sair_toolbox.utils.errors import ShapeError
import torch
import torch.nn.functional as F

from .coords import make_cell, make_coord


def grid_queries(feat: Tensor, size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
    """Coordinates and cells (B, H * W, 2) of every pixel centre of an ``H x W`` grid, in float32
    (float64 for a float64 ``feat``) whatever the autocast or feature dtype."""
    b = feat.shape[0]
    dtype = torch.promote_types(feat.dtype, torch.float32)
    coord = make_coord(size, device=feat.device, dtype=dtype).unsqueeze(0).expand(b, -1, -1)
    # One cell for all queries, expanded (a view): no per-pixel copy at large outputs.
    cell = make_cell(size, 1, b, device=feat.device, dtype=dtype).expand(-1, size[0] * size[1], -1)
    return coord, cell


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
    """A head whose only use of the feature grid is a linear ``k x k`` convolution of it.

    ``forward(feat, ...) == decode(project(feat), ...)``: :meth:`project` is the convolution
    (weight and bias from :meth:`projection`, zero padding ``k // 2``), :meth:`decode` everything
    after it. The split lets a caller build the projection another way when its input is itself a
    linear map of something smaller (``SAIR``'s fold of the SIR's last layer into AIR,
    :func:`~sair_toolbox.models.implicit_heads.fold.folded_projection`). :meth:`decode_hidden`
    stops before the last (linear) layer, :attr:`last_layer`: the blended last hidden activation,
    which that layer maps to the output (plus the global skip, if any).

    Subclasses set ``proj_channels`` (``D``) and ``needs_cell`` and implement
    :meth:`projection`, :attr:`last_layer` and :meth:`_decode`.
    """

    proj_channels: int
    needs_cell: bool = False

    def projection(self) -> Tuple[Tensor, Tensor]:
        """``(weight (D, in_channels, k, k), bias (D,))`` of the grid convolution."""
        raise NotImplementedError

    @property
    def last_layer(self) -> torch.nn.Linear:
        """The last (linear) layer, applied to the output of :meth:`decode_hidden`."""
        raise NotImplementedError

    def _decode(self, proj: Tensor, coord: Tensor, cell: Optional[Tensor],
                skip: Optional[Tensor], hidden: bool) -> Tensor:
        raise NotImplementedError

    def project(self, feat: Tensor) -> Tensor:
        """The grid convolution: (B, in_channels, h, w) -> (B, D, h, w).

        Under autocast it runs (and returns) in the autocast dtype, like any convolution.
        """
        self.check_feat(feat)
        weight, bias = self.projection()
        return F.conv2d(feat, weight, bias, padding=weight.shape[-1] // 2)

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
