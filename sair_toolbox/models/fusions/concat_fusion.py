"""Identity fusion: the SIR field is concatenated with the appearance features as is (paper)."""
from typing import Optional

from mmengine.model import BaseModule
from torch import Tensor

from sair_toolbox.registry import SEMANTIC_FUSIONS
from sair_toolbox.utils.errors import ConfigError, ShapeError


@SEMANTIC_FUSIONS.register_module()
class ConcatFusion(BaseModule):
    """The paper's default: AIR consumes ``[Z_app, S]`` with ``S`` unchanged (Eq. 5).

    Fusion interface (``SEMANTIC_FUSIONS``): built with ``in_channels`` (the SIR field's channels,
    filled in by :class:`~sair_toolbox.models.sair.SAIR`), exposes ``out_channels``, and maps the
    dense semantic field (B, in_channels, H, W) to (B, out_channels, H, W) before AIR concatenates
    it with the appearance features.

    Args:
        in_channels: channels of the semantic field.
        init_cfg: MMEngine init config (no parameters here).
    """

    def __init__(self, in_channels: int, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if int(in_channels) <= 0:
            raise ConfigError(f'ConcatFusion in_channels must be positive, got {in_channels}')
        self.in_channels = int(in_channels)
        self.out_channels = self.in_channels

    def forward(self, sem: Tensor) -> Tensor:
        """(B, c, H, W) -> the same tensor."""
        if sem.dim() != 4 or sem.shape[1] != self.in_channels:
            raise ShapeError(f'ConcatFusion expects (B, {self.in_channels}, H, W), got '
                             f'{tuple(sem.shape)}')
        return sem
