"""Mixed-precision training without loss scaling (bfloat16 autocast, e.g. on CPU)."""
from contextlib import contextmanager
from typing import Optional

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from sair_toolbox.registry import OPTIM_WRAPPERS
from sair_toolbox.utils.errors import ConfigError
from sair_toolbox.utils.precision import PRECISIONS, check_precision


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """:class:`~mmengine.optim.OptimWrapper` whose forward runs under ``torch.autocast``.

    MMEngine's ``AmpOptimWrapper`` (float16 with a ``GradScaler``) asserts an accelerator, so
    CPU mixed precision needs this one: the model's forward and loss (``optim_context``, which
    ``BaseModel.train_step`` enters) run under autocast in ``dtype``; backward, gradients and the
    update stay as ``OptimWrapper`` does them on the float32 parameters. There is no loss scaler:
    bfloat16 has float32's exponent range, so gradients do not underflow the way float16's do
    (``dtype='float16'`` is refused for that reason; use ``AmpOptimWrapper`` on a GPU).
    The state dict is the optimizer's, so resuming is exact as with ``OptimWrapper``.

    ``tools/train.py --amp`` selects it on machines without CUDA.

    Args:
        dtype: ``'bfloat16'`` (or ``'bf16'``).
        device_type: autocast device (``'cpu'``, ``'cuda'``, ...); ``None``: the device of the
            model's first parameter, read when the forward starts.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``accumulative_counts``,
            ``clip_grad``).
    """

    def __init__(self, dtype: str = 'bfloat16', device_type: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        name = {'bfloat16': 'bf16', 'float16': 'fp16'}.get(str(dtype), str(dtype))
        if name == 'fp16':
            raise ConfigError('AutocastOptimWrapper: float16 needs loss scaling; use '
                              "AmpOptimWrapper (CUDA) or dtype='bfloat16'")
        if name != 'bf16':
            raise ConfigError(f"AutocastOptimWrapper dtype must be 'bfloat16', got {dtype!r}")
        self.cast_dtype = PRECISIONS[name]
        self.device_type = device_type

    @contextmanager
    def optim_context(self, model: nn.Module):
        """``OptimWrapper.optim_context`` (gradient accumulation) plus autocast."""
        device_type = self.device_type
        if device_type is None:
            param = next(model.parameters(), None)
            device_type = param.device.type if param is not None else 'cpu'
        check_precision('bf16', device_type)
        with super().optim_context(model), torch.autocast(device_type, dtype=self.cast_dtype):
            yield
