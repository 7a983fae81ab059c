"""Loading MMEngine checkpoints with ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` only unpickles tensors, numbers, strings and plain containers
unless told otherwise. A checkpoint written by MMEngine's ``Runner.save_checkpoint`` also holds the
message hub (``HistoryBuffer`` objects backed by numpy arrays and numpy scalars), so MMEngine's own
``resume`` / ``load_from`` fail with ``Unsupported global: ...HistoryBuffer``.

:func:`allow_mmengine_checkpoint_globals` allow-lists exactly the globals such a checkpoint needs
(measured by saving a real ``Runner`` checkpoint and listing them with
``torch.serialization.get_unsafe_globals_in_checkpoint``) and nothing that can run arbitrary code.
``weights_only`` is never switched off: a checkpoint that pickles anything else is refused.

The allow-list and why each entry is needed:

* ``mmengine.logging.history_buffer.HistoryBuffer``: the message hub's ``log_scalars`` values.
* ``builtins.getattr`` -> :func:`_history_buffer_getattr`, NOT the real ``getattr``:
  ``HistoryBuffer.__getstate__`` saves its statistics methods, which pickle writes as
  ``getattr(HistoryBuffer, 'min')``. The replacement resolves only HistoryBuffer's registered
  statistics methods and refuses anything else, so the name cannot be used to reach other
  attributes (the real ``getattr`` would make any allow-listed class a gadget).
* ``numpy.ndarray``, ``numpy._core.multiarray._reconstruct``: the buffers' history arrays.
* ``numpy.dtype`` and the numeric/bool dtype classes (``numpy.dtypes.Float64DType``,
  ``Int64DType``, ...; numpy 2 builds a dtype and then sets its state, which needs its class):
  the arrays' and scalars' dtypes.
* ``numpy._core.multiarray.scalar``: numpy scalars (e.g. ``np.float64`` statistics) in the hub.
  Checkpoints written with numpy 1.x name the same functions under ``numpy.core.multiarray``;
  both names are registered.
"""
import contextlib
import os.path as osp
import pickle
import re
import zipfile
from collections import OrderedDict
from typing import Any, Dict, Iterator, Optional, Union

import numpy as np
import torch

from .errors import DataError, WeightsNotFoundError

#: numpy dtype characters whose dtype classes may appear in a checkpoint (bool, ints, floats).
_NUMPY_DTYPE_CHARS = '?bBhHiIlLqQefd'


class UnsafeCheckpointError(DataError):
    """A checkpoint pickles an object outside the weights-only allow-list."""


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` while unpickling: HistoryBuffer's statistics only.

    Args:
        obj: must be ``HistoryBuffer`` itself.
        name: a registered statistics method name (``'min'``, ``'max'``, ``'mean'``, ...).

    Returns:
        The function ``HistoryBuffer.<name>``.

    Raises:
        pickle.UnpicklingError: for any other object or attribute.
    """
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and isinstance(name, str) and not name.startswith('_'):
        value = getattr(HistoryBuffer, name, None)
        if callable(value) and (name in HistoryBuffer._statistics_methods
                                or name in ('min', 'max', 'mean', 'current')):
            return value
    raise pickle.UnpicklingError(
        f'refused getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}): only '
        'HistoryBuffer statistics methods may be resolved by name in a checkpoint')


def mmengine_checkpoint_globals() -> list:
    """The entries :func:`allow_mmengine_checkpoint_globals` registers (see module docstring)."""
    from mmengine.logging import HistoryBuffer
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    entries = [HistoryBuffer, np.ndarray, np.dtype,
               (_history_buffer_getattr, 'builtins.getattr')]
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        entries.append((multiarray._reconstruct, f'{module}._reconstruct'))
        entries.append((multiarray.scalar, f'{module}.scalar'))
    entries.extend(type(np.dtype(c)) for c in _NUMPY_DTYPE_CHARS)
    return entries


def allow_mmengine_checkpoint_globals() -> None:
    """Allow-list the globals of MMEngine checkpoints for ``torch.load(weights_only=True)``.

    Idempotent (the allow-list is a set); called on import of ``sair_toolbox.engine`` and by
    ``register_all_modules``.
    """
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


def _refusal_message(path: str, exc: BaseException) -> str:
    text = str(exc)
    match = re.search(r'WeightsUnpickler error:\s*(.*?)\s*(?:Check the documentation|$)', text,
                      re.S)
    detail = ' '.join((match.group(1) if match else text).split()) or type(exc).__name__
    glob = re.search(r'GLOBAL (\S+)', detail)
    if glob:
        detail = f'it pickles the global {glob.group(1)}, which is not on the allow-list'
    return (f'checkpoint {path} was refused by weights-only loading: {detail} (only tensors, '
            'numbers, containers and the MMEngine checkpoint types of '
            'sair_toolbox/utils/checkpoint.py are loaded; never unpickle files you do not trust)')


@contextlib.contextmanager
def checkpoint_errors(path: str) -> Iterator[None]:
    """Turn a refused ``torch.load`` in the block into a one-line :class:`UnsafeCheckpointError`.

    Used by the tools around ``Runner.train()`` / ``Runner.test()``, where MMEngine itself calls
    ``torch.load``.
    """
    try:
        yield
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(_refusal_message(path, exc)) from exc


def check_checkpoint_file(path: str, source: Optional[str] = None) -> None:
    """Fail in one line on a file that is not a readable PyTorch checkpoint, without loading it.

    For the entry points to call before anything (a Runner, MMEngine's own ``torch.load``) reads
    the file. Checks that it exists, is not empty, and is either a zip archive (``torch.save``
    since 1.6) whose central directory is intact (a truncated file loses it, since it is stored
    last) and that holds a ``data.pkl``, or a legacy pickle. Damage inside a complete archive
    shows only when loading (:func:`load_checkpoint_safely` reports it in one line too).

    Args:
        path: the checkpoint file.
        source: where the path came from, appended to the message (e.g. ``'--resume'``).

    Raises:
        WeightsNotFoundError: ``path`` is not a file.
        DataError: the file is empty, truncated, or not a PyTorch checkpoint.
    """
    where = f' ({source})' if source else ''
    if osp.isdir(path):
        raise DataError(f'checkpoint {path} is a folder, not a checkpoint file{where}')
    if not osp.isfile(path):
        raise WeightsNotFoundError(f'checkpoint {path} does not exist{where}')
    with open(path, 'rb') as f:
        head = f.read(2)
    if not head:
        raise DataError(f'checkpoint {path} is an empty file{where}')
    if head == b'PK':
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f'cannot read checkpoint {path}: truncated or corrupt ({exc}){where}'
                            ) from None
        if not any(n == 'data.pkl' or n.endswith('/data.pkl') for n in names):
            raise DataError(f'checkpoint {path} is not a PyTorch checkpoint (a zip archive '
                            f'without data.pkl){where}')
    elif head[:1] != b'\x80':  # torch < 1.6 wrote a bare pickle (protocol byte)
        raise DataError(f'checkpoint {path} is not a PyTorch checkpoint (not written by '
                        f'torch.save; it starts with {head!r}){where}')


def load_checkpoint_safely(path: str, map_location: Union[str, torch.device] = 'cpu') -> dict:
    """``torch.load(path, weights_only=True)`` with the MMEngine allow-list and one-line errors.

    Raises:
        WeightsNotFoundError: ``path`` is not a file.
        UnsafeCheckpointError: the file pickles an object outside the allow-list.
        DataError: the file is empty, truncated, corrupt or not a PyTorch checkpoint.
    """
    check_checkpoint_file(path)
    allow_mmengine_checkpoint_globals()
    with checkpoint_errors(path):
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except (EOFError, RuntimeError, KeyError, ValueError, OSError) as exc:
            reason = ' '.join(str(exc).split()).split('. ')[0][:200] or type(exc).__name__
            raise DataError(f'cannot read checkpoint {path}: truncated or corrupt '
                            f'({reason})') from None


def load_state_dict_safely(path: str,
                           map_location: Union[str, torch.device] = 'cpu'
                           ) -> 'OrderedDict[str, torch.Tensor]':
    """The model weights of a checkpoint, loaded with ``weights_only=True``.

    Accepts an MMEngine checkpoint (``{'state_dict': ..., 'meta': ..., ...}``) or a bare state dict.
    A ``module.`` prefix left by DistributedDataParallel is stripped.

    Returns:
        OrderedDict mapping parameter/buffer names to tensors.

    Raises:
        WeightsNotFoundError, UnsafeCheckpointError: see :func:`load_checkpoint_safely`.
        DataError: the file holds no state dict.
    """
    return state_dict_of(load_checkpoint_safely(path, map_location), path)


def state_dict_of(ckpt: Any, path: str) -> 'OrderedDict[str, torch.Tensor]':
    """The model weights inside a loaded checkpoint (see :func:`load_state_dict_safely`).

    Args:
        ckpt: what :func:`load_checkpoint_safely` returned.
        path: the file it came from (for the error message).
    """
    state: Dict[str, Any] = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        found = sorted(map(str, ckpt))[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise DataError(f'checkpoint {path} holds no state dict of tensors (found: {found})')
    return OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                       for k, v in state.items())
