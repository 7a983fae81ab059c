"""Mixed-precision training at the precision that fits the device (``dtype='auto'`` by default)."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from sair_toolbox.registry import OPTIM_WRAPPERS
from sair_toolbox.utils.errors import ConfigError
from sair_toolbox.utils.precision import (PRECISIONS, canonical_precision, log_precision,
                                          resolve_precision)


def _first_param_device_type(params) -> Optional[str]:
    for param in params:
        return param.device.type
    return None


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """:class:`~mmengine.optim.OptimWrapper` whose forward runs under ``torch.autocast`` at the
    precision that fits the device.

    ``dtype='auto'`` (the default, and what every config uses) resolves when training starts --
    the first :meth:`optim_context`, from the model's device -- with
    :func:`sair_toolbox.utils.precision.resolve_precision`, and logs the choice and its reason
    once:

    - ``fp32`` (a CPU whose oneDNN has no native bfloat16 kernels, where bf16 autocast runs
      ~10x slower; any device without a mixed-precision default): no autocast context at all,
      so every step is exactly ``OptimWrapper``'s (bitwise the same run);
    - ``bf16`` (a CPU with native bfloat16 kernels, a CUDA GPU that supports bfloat16): the
      model's forward and loss run under autocast; backward, gradients and the update stay as
      ``OptimWrapper`` does them on the float32 parameters, without a loss scaler (bfloat16 has
      float32's exponent range, so gradients do not underflow);
    - ``fp16`` (CUDA without bfloat16): autocast plus dynamic loss scaling with
      ``torch.amp.GradScaler``, as MMEngine's ``AmpOptimWrapper`` does it: the loss is scaled in
      :meth:`backward`, the gradients unscaled before clipping, the step skipped on inf/NaN and
      the scale updated (:meth:`step`).

    An explicit ``dtype`` (``'float32' | 'bfloat16' | 'float16'``, or ``fp32 | bf16 | fp16``)
    forces the choice; ``'float16'`` needs CUDA (one-line :class:`ConfigError` elsewhere).
    The state dict is the optimizer's plus, with a loss scaler, its state under
    ``'loss_scaler'`` (AmpOptimWrapper's key), so resuming is exact; a state loaded before the
    precision is resolved is kept until then.

    ``tools/train.py --precision`` sets ``dtype``; ``--amp`` forces mixed precision.

    Args:
        dtype: ``'auto'`` (default) or an explicit precision (see above).
        device_type: autocast device (``'cpu'``, ``'cuda'``, ...); ``None``: the device of the
            model's first parameter, read when the first forward starts.
        loss_scale: the ``GradScaler`` of ``fp16``: ``'dynamic'`` (default), a float (static
            scale) or a dict of ``GradScaler`` arguments, as ``AmpOptimWrapper``'s.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``accumulative_counts``,
            ``clip_grad``).
    """

    def __init__(self, dtype: str = 'auto', device_type: Optional[str] = None,
                 loss_scale: Union[str, float, dict] = 'dynamic', **kwargs):
        super().__init__(**kwargs)
        try:
            self.requested = canonical_precision(dtype)
        except ConfigError:
            raise ConfigError("AutocastOptimWrapper dtype must be 'auto', 'float32', "
                              f"'bfloat16' or 'float16', got {dtype!r}") from None
        if not (loss_scale == 'dynamic' or isinstance(loss_scale, (float, dict))):
            raise ConfigError("AutocastOptimWrapper loss_scale must be 'dynamic', a float or a "
                              f'dict, got {loss_scale!r}')
        self.device_type = device_type
        self.loss_scale = loss_scale
        #: The resolved precision (``'fp32' | 'bf16' | 'fp16'``) and why; None until resolved.
        self.precision: Optional[str] = None
        self.precision_reason: Optional[str] = None
        #: The autocast dtype (None: no autocast); an explicit dtype sets it now.
        self.cast_dtype = None if self.requested == 'auto' else PRECISIONS[self.requested]
        self.loss_scaler = None
        self._scale_update_param = loss_scale if isinstance(loss_scale, float) else None
        self._pending_scaler_state = None
        self._autocast_device = None
        if self.requested == 'fp16':
            params = (p for g in self.optimizer.param_groups for p in g['params'])
            self._check_fp16(device_type or _first_param_device_type(params) or 'cpu')

    @staticmethod
    def _check_fp16(device_type: str) -> None:
        if device_type != 'cuda':
            raise ConfigError(f"AutocastOptimWrapper: dtype='float16' needs loss scaling, done "
                              f"here on CUDA only; on {device_type} use 'auto', 'bfloat16' or "
                              "'float32'")

    # ------------------------------------------------------------------ resolution
    def resolve(self, device_type: str) -> str:
        """Resolve the precision for ``device_type`` now (once) and log it; returns the name."""
        if self.precision is None:
            if self.requested == 'fp16':
                self._check_fp16(device_type)
            name, reason = resolve_precision(self.requested, device_type)
            self._configure(name, device_type)
            self.precision_reason = reason
            log_precision(self.requested, name, reason)
        return self.precision

    def _configure(self, name: str, device_type: str) -> None:
        """Set up ``name`` on ``device_type``: the autocast dtype and, for fp16, the scaler."""
        self.precision = name
        self.cast_dtype = PRECISIONS[name]
        self._autocast_device = device_type
        if name == 'fp16':
            if isinstance(self.loss_scale, dict):
                self.loss_scaler = torch.amp.GradScaler(device_type, **self.loss_scale)
            elif isinstance(self.loss_scale, float):
                self.loss_scaler = torch.amp.GradScaler(device_type, init_scale=self.loss_scale)
            else:
                self.loss_scaler = torch.amp.GradScaler(device_type)
            if self._pending_scaler_state is not None:
                self.loss_scaler.load_state_dict(self._pending_scaler_state)
        self._pending_scaler_state = None

    def _model_device_type(self, model: nn.Module) -> str:
        if self.device_type is not None:
            return self.device_type
        return (_first_param_device_type(model.parameters())
                or _first_param_device_type(p for g in self.optimizer.param_groups
                                            for p in g['params']) or 'cpu')

    # ------------------------------------------------------------------ training
    @contextmanager
    def optim_context(self, model: nn.Module):
        """``OptimWrapper.optim_context`` (gradient accumulation) plus autocast, if any."""
        self.resolve(self._model_device_type(model))
        with super().optim_context(model):
            if self.cast_dtype is None:
                yield
            else:
                with torch.autocast(self._autocast_device, dtype=self.cast_dtype):
                    yield

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """``OptimWrapper.backward``; with a loss scaler, of the scaled loss."""
        if self.loss_scaler is None:
            super().backward(loss, **kwargs)
            return
        self.loss_scaler.scale(loss).backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        """``OptimWrapper.step``; with a loss scaler: unscale before clipping, the scaler's step
        (skipped on inf/NaN gradients) and its update."""
        if self.loss_scaler is None:
            super().step(**kwargs)
            return
        if self.clip_grad_kwargs:
            self.loss_scaler.unscale_(self.optimizer)
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update(self._scale_update_param)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """The optimizer's state dict plus the loss scaler's (``'loss_scaler'``), if any."""
        state_dict = super().state_dict()
        if self.loss_scaler is not None:
            state_dict['loss_scaler'] = self.loss_scaler.state_dict()
        elif self._pending_scaler_state is not None:
            state_dict['loss_scaler'] = self._pending_scaler_state
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        """Load the optimizer's state and the loss scaler's (kept until resolution if the
        precision is not resolved yet; dropped where the run resolves to no scaler)."""
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop('loss_scaler', None)
        if scaler_state is not None:
            if self.loss_scaler is not None:
                self.loss_scaler.load_state_dict(scaler_state)
            elif self.precision is None:
                self._pending_scaler_state = scaler_state
        super().load_state_dict(state_dict)
