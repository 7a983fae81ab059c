"""How much memory one inpainting request needs, how much it may take, and refusing in one line.

A request is checked before it runs (:func:`check_request`): its estimate (:func:`estimate`) is
compared with a limit (:func:`memory_limit`), and a request that cannot fit is refused with one
:class:`~sair_toolbox.utils.errors.ResourceError` line naming the output size, the estimate and
the limit -- never the allocator's raw ``RuntimeError``. An allocation that still fails while the
request runs (another process took the memory) becomes the same kind of line
(:func:`allocation_error`).

The estimate. The implicit heads evaluate their queries in chunks of bounded size, so the working
memory of the MLPs is flat at any output size; what grows is

* at the **input** size ``H x W``: the model's full-resolution grids -- the appearance features
  ``Z_app`` (B, C_app, H, W) and the appearance encoder's full-resolution activations, the SIR
  field ``S`` (B, c, H, W) (or its hidden field when folded) with the head's output before its
  reshape, the concatenation AIR reads, AIR's grid projection (B, D, H, W) and its row table, and,
  with label maps, the two semantic fields labelled against the class texts;
* at the **output** size ``H' x W'``: the query coordinates (float32 ``(y, x)``), the head's
  output (B, H'W', 3) and the (B, 3, H', W') image it is reshaped into (float32), the global skip
  sampled at every query (heads with ``global_skip``), the temporaries of the composite, and the
  uint8 picture returned.

Every term is float32 (4 bytes) per pixel and channel; the count is an upper bound of what one
request holds at its peak (``tests/test_apis/test_input_guards.py`` measures it).

The limit: ``SAIRInferencer(max_memory=...)``, else the environment variable
:data:`ENV_VAR` (``SAIR_MAX_MEMORY``), else :data:`MARGIN` of the memory available now (psutil
if installed, else ``MemAvailable`` of ``/proc/meminfo``; on CUDA the device's free memory).
Sizes are bytes or strings such as ``'8GB'``, ``'512MiB'``, ``'2e9'``.
"""
import os
import re
from typing import Optional, Tuple, Union

import torch

from sair_toolbox.utils.errors import ConfigError, ResourceError

#: The environment variable holding the default memory limit of a request.
ENV_VAR = 'SAIR_MAX_MEMORY'
#: Fraction of the available memory a request may use when no limit is given.
MARGIN = 0.8

_UNITS = {'': 1, 'b': 1, 'k': 10**3, 'kb': 10**3, 'm': 10**6, 'mb': 10**6, 'g': 10**9,
          'gb': 10**9, 't': 10**12, 'tb': 10**12, 'kib': 2**10, 'mib': 2**20, 'gib': 2**30,
          'tib': 2**40}

Size = Union[int, float, str]


def parse_bytes(value: Size, what: str = 'max_memory') -> int:
    """A memory size as bytes: an int, a float (``2e9``) or a string (``'8GB'``, ``'512 MiB'``).

    Raises:
        ConfigError: not a positive size.
    """
    if isinstance(value, bool):
        raise ConfigError(f'{what} must be a size in bytes (e.g. 8GB), got {value!r}')
    if isinstance(value, (int, float)):
        number, unit = float(value), ''
    else:
        match = re.fullmatch(r'\s*([0-9.]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*', str(value))
        if not match or match.group(2).lower() not in _UNITS:
            raise ConfigError(f'{what} must be a size such as 8GB, 512MiB or 2e9 (bytes), got '
                              f'{value!r}')
        try:
            number = float(match.group(1))
        except ValueError:
            raise ConfigError(f'{what} must be a size such as 8GB, got {value!r}') from None
        unit = match.group(2).lower()
    size = number * _UNITS[unit]
    if not size >= 1 or size != size or size == float('inf'):
        raise ConfigError(f'{what} must be a positive size, got {value!r}')
    return int(size)


def format_bytes(n: float) -> str:
    """``1.5 GB``-style (decimal units)."""
    for unit, factor in (('TB', 1e12), ('GB', 1e9), ('MB', 1e6), ('kB', 1e3)):
        if n >= factor:
            return f'{n / factor:.3g} {unit}'
    return f'{int(n)} B'


def available_memory(device: Optional[torch.device] = None) -> Optional[int]:
    """Bytes available now: the device's free memory on CUDA, else the host's available RAM
    (psutil, else ``/proc/meminfo``'s ``MemAvailable``); None if it cannot be told."""
    device = torch.device(device or 'cpu')
    if device.type == 'cuda':
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError):
            return None
    try:
        import psutil
        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def memory_limit(max_memory: Optional[Size] = None,
                 device: Optional[torch.device] = None) -> Tuple[Optional[int], str]:
    """``(limit in bytes or None, where it comes from)`` for one request.

    Args:
        max_memory: an explicit limit (see :func:`parse_bytes`); default the environment
            variable :data:`ENV_VAR`, else :data:`MARGIN` of :func:`available_memory`.
        device: the device the model runs on.
    """
    if max_memory is not None:
        return parse_bytes(max_memory), 'max_memory'
    env = os.environ.get(ENV_VAR)
    if env:
        return parse_bytes(env, ENV_VAR), ENV_VAR
    free = available_memory(device)
    if free is None:
        return None, 'unknown'
    where = 'free device memory' if torch.device(device or 'cpu').type == 'cuda' else \
        'available RAM'
    return int(free * MARGIN), f'{int(MARGIN * 100)}% of the {where}'


def _channels(model) -> dict:
    """The channel counts of the model's full-resolution grids (0 for an absent part)."""
    app = getattr(model, 'appearance_encoder', None)
    sir = getattr(model, 'sir', None)
    air = getattr(model, 'air_head', None)
    c_app = int(getattr(app, 'out_channels', 0) or 0) if app is not None else 0
    c_sem = int(getattr(sir, 'out_channels', 0) or 0) if sir is not None else 0
    hidden = 0
    if sir is not None and getattr(sir, 'last_layer', None) is not None:
        hidden = int(sir.last_layer.in_features)
    proj = int(getattr(air, 'proj_channels', 0) or 0)
    if not proj:  # a head without a projection reads the concatenated features directly
        proj = c_app + c_sem
    return dict(app=c_app, sem=c_sem, hidden=hidden, proj=proj,
                skip=bool(getattr(air, 'global_skip', False)))


def estimate(model, input_size: Tuple[int, int], size: Tuple[int, int], labels: bool = False,
             num_classes: int = 0, batch: int = 1) -> int:
    """Upper bound of the bytes one :meth:`SAIRInferencer.inpaint_array` call holds at its peak.

    Args:
        model: the SAIR model (its parts are read for their channel counts; any ablation).
        input_size: ``(H, W)`` of the input.
        size: ``(H', W')`` of the output.
        labels: the label maps are computed too.
        num_classes: ``L``, the classes labelled against.
        batch: images per call.

    Returns:
        bytes (see the module docstring for what is counted).
    """
    ch = _channels(model)
    h, w = (int(v) for v in input_size)
    oh, ow = (int(v) for v in size)
    sem = max(ch['sem'], ch['hidden'])
    # Input size: encoder activations (2 C_app: its first conv and last transposed conv) +
    # Z_app, the field and the head's output before its reshape (2 sem), the concatenation
    # (C_app + c), AIR's projection and its row table (2 D), the masked image, mask and skip.
    grid = 3 * ch['app'] + 2 * sem + (ch['app'] + ch['sem']) + 2 * ch['proj'] + 16
    if labels and ch['sem']:
        # the captured field, the masked field, their normalised copies and the logits
        grid += 4 * ch['sem'] + num_classes + 2
    per_output = 8 + 12 + 12 + (24 if ch['skip'] else 0) + 3 + 3
    composite = 4 * 3 * 3 if (oh, ow) == (h, w) else 0  # img * (1 - m), pred * m, their sum
    return int(batch * (4 * grid * h * w + (per_output + composite) * oh * ow))


def check_request(model, input_size: Tuple[int, int], size: Tuple[int, int],
                  limit: Tuple[Optional[int], str], labels: bool = False,
                  num_classes: int = 0, name: str = 'the image') -> int:
    """Refuse a request that cannot fit, in one line; returns its estimate in bytes.

    Args:
        model, input_size, size, labels, num_classes: see :func:`estimate`.
        limit: ``(bytes or None, source)`` from :func:`memory_limit`; None never refuses.
        name: how to call the input in the message.

    Raises:
        ResourceError: the estimate exceeds the limit.
    """
    need = estimate(model, input_size, size, labels, num_classes)
    bytes_, source = limit
    if bytes_ is not None and need > bytes_:
        oh, ow = size
        h, w = input_size
        raise ResourceError(
            f'output {ow}x{oh} (W x H) of {name} ({w}x{h}) needs about {format_bytes(need)} of '
            f'memory, above the limit of {format_bytes(bytes_)} ({source}); ask for a smaller '
            f'size or scale, or raise the limit (max_memory= / --max-memory / {ENV_VAR})')
    return need


#: Phrases of the allocators' out-of-memory messages (CPU and CUDA).
_OOM = re.compile(r"can't allocate memory|out of memory|not enough memory|"
                  r'DefaultCPUAllocator|failed to allocate|std::bad_alloc', re.IGNORECASE)


def allocation_error(exc: BaseException, size: Tuple[int, int],
                     limit: Tuple[Optional[int], str]) -> Optional[ResourceError]:
    """The one-line :class:`ResourceError` for an allocator failure, or None for other errors.

    Args:
        exc: what the model raised (``MemoryError``, ``torch.OutOfMemoryError`` or a
            ``RuntimeError`` whose message is an allocator's).
        size: ``(H', W')`` of the output asked for.
        limit: see :func:`check_request`.
    """
    oom = isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and bool(_OOM.search(str(exc))))
    if not oom:
        return None
    bytes_, source = limit
    where = f'; limit {format_bytes(bytes_)} ({source})' if bytes_ is not None else ''
    return ResourceError(f'out of memory while rendering a {size[1]}x{size[0]} (W x H) output '
                         f'(the allocator failed{where}); ask for a smaller size or scale, or '
                         'free memory')
