"""Precision: one option (``auto | fp32 | bf16 | fp16``) shared by every entry point.

``tools/train.py`` (through :class:`~sair_toolbox.engine.AutocastOptimWrapper`), ``tools/test.py``,
``tools/inpaint.py``, the web demo and :class:`~sair_toolbox.apis.SAIRInferencer` take
``precision``. ``fp32`` is plain float32 (no autocast context at all); ``bf16`` and ``fp16`` are
``torch.autocast`` on the model's device type. What must stay float32 inside the model
(coordinates, area weights, losses) is kept float32 by the components themselves.

``auto`` (the default everywhere) picks what the device runs fastest without losing training
stability (:func:`resolve_precision`):

- CPU: ``bf16`` where oneDNN has native bfloat16 kernels (:func:`cpu_bf16_supported`), else
  ``fp32``: without them bf16 autocast is emulated and about 10-13x slower than float32
  (measured on an AVX2-only CPU: demo training step 8.8 s vs 0.80 s);
- CUDA: ``bf16`` where the GPU supports it, else ``fp16`` (with loss scaling when training);
- any other device: ``fp32``.

The choice is logged once (:func:`log_precision`), with its reason.
"""
import contextlib
from typing import ContextManager, Tuple, Union

import torch

from .errors import ConfigError

#: Accepted names and their dtypes (``None``: plain float32, no autocast).
PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
#: What every entry point accepts: ``auto`` (the default) and the explicit names.
PRECISION_CHOICES = ('auto', ) + tuple(PRECISIONS)
#: Other spellings (the optim wrapper's ``dtype``) of the explicit names.
ALIASES = {'float32': 'fp32', 'bfloat16': 'bf16', 'float16': 'fp16'}

SLOW_BF16 = 'bf16 autocast would run ~10x slower'


def cpu_bf16_supported() -> bool:
    """Whether this CPU's oneDNN has native bfloat16 kernels (the one probe the toolbox uses).

    ``torch.ops.mkldnn._is_mkldnn_bf16_supported()``: true on CPUs with AVX512 (BW/VL/DQ, e.g.
    AVX512-BF16 or AMX) or AVX-NE-CONVERT; false on AVX2-only CPUs, where bfloat16 is emulated.
    Tests mock this function to pin both cases.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # noqa: BLE001 - a build without the op has no native kernels either
        return False


def cuda_bf16_supported() -> bool:
    """``torch.cuda.is_bf16_supported()`` (false where it cannot be asked)."""
    try:
        return bool(torch.cuda.is_bf16_supported())
    except Exception:  # noqa: BLE001 - no driver / no device
        return False


def canonical_precision(precision) -> str:
    """``precision`` lower-cased with the dtype spellings (``bfloat16``...) mapped to the names.

    Raises:
        ConfigError: not ``auto`` nor one of :data:`PRECISIONS` (one line).
    """
    name = str(precision).lower()
    name = ALIASES.get(name, name)
    if name != 'auto' and name not in PRECISIONS:
        raise ConfigError(f'precision must be one of {", ".join(PRECISIONS)} or auto, '
                          f'got {precision!r}')
    return name


def check_precision(precision: str, device: Union[str, torch.device]) -> str:
    """Validate an explicit precision name for a device; returns the canonical name.

    Raises:
        ConfigError: unknown name (or ``auto``: use :func:`resolve_precision`), or a dtype the
            device cannot autocast to (one line).
    """
    name = canonical_precision(precision)
    if name == 'auto':
        raise ConfigError("precision 'auto' must be resolved first (resolve_precision)")
    device = torch.device(device)
    dtype = PRECISIONS[name]
    if dtype is None:
        return name
    if device.type == 'cuda':
        if dtype is torch.bfloat16 and not cuda_bf16_supported():
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


def auto_precision(device: Union[str, torch.device]) -> Tuple[str, str]:
    """What ``auto`` means on ``device``: ``(name, reason)`` (see the module docstring)."""
    kind = torch.device(device).type
    if kind == 'cpu':
        if cpu_bf16_supported():
            return 'bf16', "this CPU's oneDNN has native bfloat16 kernels"
        return 'fp32', f"this CPU's oneDNN has no native bfloat16 kernels ({SLOW_BF16})"
    if kind == 'cuda':
        if cuda_bf16_supported():
            return 'bf16', 'this CUDA device supports bfloat16'
        return 'fp16', ('this CUDA device does not support bfloat16 (float16, with loss scaling '
                        'when training)')
    return 'fp32', f'no mixed-precision default for device type {kind!r}'


def resolve_precision(precision: str, device: Union[str, torch.device]) -> Tuple[str, str]:
    """The precision to run at on ``device`` and why: ``(name, reason)``.

    Args:
        precision: ``'auto'`` (see :func:`auto_precision`) or an explicit ``fp32 | bf16 | fp16``
            (checked by :func:`check_precision`; also ``float32 | bfloat16 | float16``).
        device: the device the model runs on.

    Returns:
        ``name`` in :data:`PRECISIONS` and a short reason for the log line.

    Raises:
        ConfigError: an unknown name, or an explicit dtype the device cannot run (one line).
    """
    name = canonical_precision(precision)
    if name == 'auto':
        return auto_precision(device)
    return check_precision(name, device), 'requested explicitly'


def precision_message(requested: str, name: str, reason: str) -> str:
    """The log line, e.g. ``precision auto -> fp32: this CPU's oneDNN has no native ...``."""
    return f'precision {canonical_precision(requested)} -> {name}: {reason}'


_LOGGED = set()


def log_precision(requested: str, name: str, reason: str) -> str:
    """Log the choice once per logger and message (MMEngine's current logger); returns the line.

    The GAN's two optim wrappers resolve the same way: one line per run.

    Args:
        requested: what was asked for (``'auto'``...).
        name, reason: what :func:`resolve_precision` returned.
    """
    from mmengine.logging import MMLogger, print_log

    message = precision_message(requested, name, reason)
    key = (MMLogger.get_current_instance().instance_name, message)
    if key not in _LOGGED:
        _LOGGED.add(key)
        print_log(message, logger='current')
    return message


def autocast(precision: str, device: Union[str, torch.device]) -> ContextManager:
    """Context manager running the enclosed model calls at ``precision`` on ``device``.

    Args:
        precision: ``'auto'`` (resolved for ``device``), ``'fp32'`` (no autocast), ``'bf16'``
            or ``'fp16'``.
        device: the device the model runs on (its type selects the autocast backend).
    """
    name, _ = resolve_precision(precision, device)
    dtype = PRECISIONS[name]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)
