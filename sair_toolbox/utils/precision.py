"""Inference/evaluation precision: one option (``fp32 | bf16 | fp16``) shared by every entry point.

``tools/test.py``, ``tools/inpaint.py``, the web demo and :class:`~sair_toolbox.apis.SAIRInferencer`
take ``precision`` and run the model under :func:`autocast`. ``fp32`` is a no-op context; ``bf16``
and ``fp16`` are ``torch.autocast`` on the model's device type. What must stay float32 inside the
model (coordinates, area weights, losses) is kept float32 by the components themselves.
"""
import contextlib
from typing import ContextManager, Union

import torch

from .errors import ConfigError

#: Accepted names and their dtypes (``None``: plain float32, no autocast).
PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def check_precision(precision: str, device: Union[str, torch.device]) -> str:
    """Validate a precision name for a device; returns the canonical name.

    Raises:
        ConfigError: unknown name, or a dtype the device cannot autocast to (one line).
    """
    name = str(precision).lower()
    if name not in PRECISIONS:
        raise ConfigError(f'precision must be one of {", ".join(PRECISIONS)}, got {precision!r}')
    device = torch.device(device)
    dtype = PRECISIONS[name]
    if dtype is None:
        return name
    if device.type == 'cuda':
        if dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
            raise ConfigError('precision=bf16: this CUDA device does not support bfloat16; '
                              'use fp16 or fp32')
    elif device.type == 'cpu':
        if not torch.amp.is_autocast_available('cpu'):  # pragma: no cover - old builds
            raise ConfigError('precision: CPU autocast is not available in this torch build')
    else:
        if not torch.amp.is_autocast_available(device.type):
            raise ConfigError(f'precision={name}: torch has no autocast for device '
                              f'{device.type!r}; use fp32')
    return name


def autocast(precision: str, device: Union[str, torch.device]) -> ContextManager:
    """Context manager running the enclosed model calls at ``precision`` on ``device``.

    Args:
        precision: ``'fp32'`` (no autocast), ``'bf16'`` or ``'fp16'``.
        device: the device the model runs on (its type selects the autocast backend).
    """
    name = check_precision(precision, device)
    dtype = PRECISIONS[name]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)
