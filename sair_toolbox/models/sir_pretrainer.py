"""Stage one of two-stage training: the SIR alone."""
from typing import List, Optional

from mmengine.model import BaseModel
from torch import Tensor

from sair_toolbox.registry import MODELS
from sair_toolbox.utils.errors import ConfigError

from .data_preprocessor import build_data_preprocessor, stack_masks
from .sir import SemanticImplicitRepresentation


@MODELS.register_module()
class SIRPretrainer(BaseModel):
    """Train SIR (Eq. 4) alone with the semantic loss ``|SIR(grid centres) - Z_sem(I)|_1``.

    Its checkpoint's ``sir.*`` weights load into :class:`SAIR` with
    ``sir=dict(..., frozen=True, init_cfg=dict(type='Pretrained', checkpoint=CKPT, prefix='sir.'))``
    (stage two: the option seen in the authors' release; the paper trains jointly).

    ``mode='predict'`` sets ``pred_sem`` (SIR at the grid centres) and ``gt_sem`` (features of
    the unmasked image), each (c, h, w), on the data samples; ``'tensor'`` returns ``pred_sem``.
    """

    def __init__(self, sir: dict, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        self.sir = SemanticImplicitRepresentation(**sir)
        if not self.sir.trainable:
            raise ConfigError('SIRPretrainer needs a trainable SIR head (head set, frozen=False)')

    def forward(self, inputs: Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        mask = stack_masks(data_samples).to(inputs)
        grid = self.sir.encode(inputs * (1 - mask), mask)
        if mode == 'loss':
            return dict(loss_sem=self.sir.semantic_loss(grid, inputs))
        # Outputs in float32, also under autocast (where SIR runs in low precision).
        pred = self.sir.reconstruct(grid).float()
        if mode == 'tensor':
            return pred
        target = self.sir.target(inputs).float()
        if mode == 'predict':
            for i, sample in enumerate(data_samples):
                sample.pred_sem = pred[i]
                sample.gt_sem = target[i]
            return list(data_samples)
        raise ValueError(f'invalid mode {mode!r}; use loss, predict or tensor')

