"""What AIR decodes for a masked batch (the result of :meth:`SAIR.encode`)."""
from dataclasses import dataclass, field
from typing import Optional, Tuple

from torch import Tensor

from sair_toolbox.utils.errors import ShapeError

from .implicit_heads.base import BaseImplicitHead


@dataclass(eq=False)
class AIRInput:
    """AIR's feature grid for a batch, with the head that decodes it (Eq. 5 at any query).

    It holds either the grid itself, ``feat = [Z_app, fusion(S)]``, or -- when SAIR folds the
    SIR's last layer into AIR (``fold_sir``) -- only its projection ``proj`` by AIR's grid
    convolution (the field ``S`` is then never built). :meth:`query` and :meth:`grid` take the
    right path, so callers do not look at which one is set.

    Attributes:
        head: the AIR head (a :class:`~.implicit_heads.base.ProjectedImplicitHead` when ``proj``
            is set).
        skip: (B, 3, H, W) the masked image in [-1, 1] (used by heads with a global skip).
        feat: (B, C_air, H, W) the grid AIR reads, or ``None`` when folded.
        proj: (B, D, H, W) ``head.project(feat)`` computed without ``feat``, or ``None``.
        sem_grid: (B, c + 1, h, w) the SIR grid ``[Z_sem, M_lr]`` (the semantic loss's input), or
            ``None`` without a semantic branch.
    """

    head: BaseImplicitHead = field(repr=False)
    skip: Tensor
    feat: Optional[Tensor] = None
    proj: Optional[Tensor] = None
    sem_grid: Optional[Tensor] = None

    def __post_init__(self):
        if (self.feat is None) == (self.proj is None):
            raise ShapeError('AIRInput: give exactly one of feat (B, C_air, H, W) and proj '
                             '(B, D, H, W)')

    @property
    def folded(self) -> bool:
        """Whether AIR reads the folded projection ``proj`` (no explicit field ``S``)."""
        return self.proj is not None

    def query(self, coord: Tensor, cell: Optional[Tensor] = None) -> Tensor:
        """AIR at continuous coordinates.

        Args:
            coord: (B, Q, 2) ``(y, x)`` in [-1, 1].
            cell: (B, Q, 2) query cell sizes ``(2 / H', 2 / W')``.

        Returns:
            (B, Q, 3) on the [-1, 1] scale, unclamped (in the autocast dtype under autocast).
        """
        if self.folded:
            return self.head.decode(self.proj, coord, cell, skip=self.skip)
        return self.head(self.feat, coord, cell, skip=self.skip)

    def grid(self, size: Tuple[int, int]) -> Tensor:
        """AIR at every pixel centre of an ``H' x W'`` grid.

        Returns:
            (B, 3, H', W') on the [-1, 1] scale, unclamped (in the autocast dtype under
            autocast).
        """
        if self.folded:
            return self.head.decode_grid(self.proj, size, skip=self.skip)
        return self.head.query_grid(self.feat, size, skip=self.skip)
