"""Test loop whose model forward runs at a chosen precision (auto | fp32 | bf16 | fp16)."""
from typing import Dict, List, Sequence, Union

import torch
from mmengine.runner.loops import TestLoop, _update_losses
from torch.utils.data import DataLoader

from sair_toolbox.registry import LOOPS
from sair_toolbox.utils.precision import autocast, log_precision, resolve_precision


@LOOPS.register_module()
class PrecisionTestLoop(TestLoop):
    """MMEngine's ``TestLoop`` with the model's ``test_step`` under
    :func:`sair_toolbox.utils.precision.autocast` (``tools/test.py --precision``).

    Only the forward is autocast: the evaluator (PSNR, SSIM, LPIPS) processes the float32
    outputs in float32, so metrics measure the model's precision, not the metric's.

    Args:
        runner, dataloader, evaluator: as ``TestLoop``.
        precision: ``'auto'`` (default: what fits the model's device, see
            :func:`~sair_toolbox.utils.precision.resolve_precision`), ``'fp32'``, ``'bf16'`` or
            ``'fp16'`` (checked against the model's device). The resolved name is
            ``self.precision``, its reason ``self.precision_reason``; both are logged once.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Dict, List], precision: str = 'auto') -> None:
        super().__init__(runner, dataloader, evaluator, fp16=False)
        self.precision, self.precision_reason = resolve_precision(precision, self._device())
        log_precision(precision, self.precision, self.precision_reason)

    def _device(self) -> torch.device:
        param = next(self.runner.model.parameters(), None)
        return param.device if param is not None else torch.device('cpu')

    @torch.no_grad()
    def run_iter(self, idx, data_batch: Sequence[dict]) -> None:
        """``TestLoop.run_iter`` with the precision's autocast around ``test_step`` only."""
        self.runner.call_hook('before_test_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(self.precision, self._device()):
            outputs = self.runner.model.test_step(data_batch)
        outputs, self.test_loss = _update_losses(outputs, self.test_loss)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook('after_test_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)
