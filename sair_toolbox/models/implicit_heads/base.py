"""Small shared interface of implicit heads."""
from typing import Optional, Tuple

from mmengine.model import BaseModule
from torch import Tensor

from sair_toolbox.utils.errors import ShapeError
from .coords import make_cell, make_coord


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
        b = feat.shape[0]
        h, w = size
        coord = make_coord(size, device=feat.device, dtype=feat.dtype)
        coord = coord.unsqueeze(0).expand(b, -1, -1)
        cell = make_cell(size, h * w, b, device=feat.device, dtype=feat.dtype)
        out = self.forward(feat, coord, cell, skip)
        return out.transpose(1, 2).reshape(b, self.out_channels, h, w)

    def check_inputs(self, feat: Tensor, coord: Tensor, cell: Optional[Tensor],
                     skip: Optional[Tensor], need_cell: bool) -> None:
        """Raise :class:`ShapeError` (one line) unless the inputs of :meth:`forward` fit.

        Args:
            feat, coord, cell, skip: the arguments of :meth:`forward`.
            need_cell: whether this head decodes ``cell``.
        """
        name = type(self).__name__
        if feat.dim() != 4:
            raise ShapeError(f'{name}: feat must be 4-D (B, C, h, w), got shape '
                             f'{tuple(feat.shape)}')
        if feat.shape[1] != self.in_channels:
            raise ShapeError(f'{name}: feat has {feat.shape[1]} channels, expected '
                             f'in_channels={self.in_channels}')
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
        if self.global_skip:
            if skip is None:
                raise ShapeError(f'{name}: global_skip=True needs skip (B, {self.out_channels}, '
                                 f"h', w'), got None")
            if (skip.dim() != 4 or skip.shape[0] != feat.shape[0]
                    or skip.shape[1] != self.out_channels):
                raise ShapeError(f"{name}: skip must be (B={feat.shape[0]}, "
                                 f"{self.out_channels}, h', w'), got {tuple(skip.shape)}")
