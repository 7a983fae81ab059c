import contextlib
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner

from sair_toolbox.utils.checkpoint import (UnsafeCheckpointError,
                                           allow_mmengine_checkpoint_globals,
                                           load_checkpoint_safely, load_state_dict_safely,
                                           mmengine_checkpoint_globals)
from sair_toolbox.utils.errors import SAIRError, WeightsNotFoundError
from sair_toolbox.engine.setup import register_all_modules
from tests.test_engine.tiny_run import model_state, release_workers, tiny_cfg


class Arbitrary:
    """A class defined here: must never be unpickled from a checkpoint."""

    def __init__(self):
        self.x = 1


class RunsCode:
    """Unpickling it would run ``os.system`` (touch a marker file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


class GetattrGadget:
    """Pickles as ``getattr(HistoryBuffer, '__init__')``: a name lookup outside the statistics."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


@pytest.fixture(scope='module')
def runner_checkpoint(tmp_path_factory):
    """A checkpoint written by a real Runner after 2 iterations, and the trained weights."""
    work_dir = tmp_path_factory.mktemp('ckpt')
    register_all_modules(init_default_scope=False)
    runner = Runner.from_cfg(tiny_cfg(work_dir, **{'train_cfg.max_iters': 2}))
    runner.train()
    release_workers(runner)
    return str(work_dir / 'iter_2.pth'), model_state(runner)


@contextlib.contextmanager
def no_allow_list():
    """Temporarily empty torch's user allow-list (restored afterwards)."""
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        yield
    finally:
        torch.serialization.add_safe_globals(saved)


def test_runner_checkpoint_loads_weights_only(runner_checkpoint):
    path, weights = runner_checkpoint
    with no_allow_list():
        with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
            torch.load(path, weights_only=True)
    allow_mmengine_checkpoint_globals()
    ckpt = torch.load(path, weights_only=True)
    assert ckpt['meta']['iter'] == 2
    assert isinstance(ckpt['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    assert ckpt['message_hub']['log_scalars']['train/loss'].mean() > 0
    for key, value in weights.items():
        assert torch.equal(ckpt['state_dict'][key], value)


def test_allow_list_is_exactly_what_a_runner_checkpoint_needs(runner_checkpoint):
    path, _ = runner_checkpoint
    with no_allow_list():
        needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    allowed = {e[1] if isinstance(e, tuple) else f'{e.__module__}.{e.__qualname__}'
               for e in mmengine_checkpoint_globals()}
    assert needed <= allowed
    # Beyond the measured globals, only the numpy-1 aliases and sibling numeric dtype classes.
    extra = {n for n in allowed - needed
             if not n.startswith(('numpy.core.multiarray.', 'numpy.dtypes.'))}
    assert extra == set(), extra


def test_load_state_dict_safely(runner_checkpoint, tmp_path):
    path, weights = runner_checkpoint
    state = load_state_dict_safely(path)
    assert state.keys() == weights.keys()
    assert all(torch.equal(state[k], weights[k]) for k in weights)
    # A bare DDP state dict: the `module.` prefix is stripped.
    bare = tmp_path / 'bare.pth'
    torch.save({f'module.{k}': v for k, v in weights.items()}, bare)
    assert load_state_dict_safely(str(bare)).keys() == weights.keys()


def test_missing_checkpoint_is_one_line(tmp_path):
    with pytest.raises(WeightsNotFoundError, match='nope.pth does not exist'):
        load_state_dict_safely(str(tmp_path / 'nope.pth'))


@pytest.mark.parametrize('payload,name', [
    (Arbitrary(), 'Arbitrary'),
    (GetattrGadget(), 'getattr'),
    (np.array([object()], dtype=object), 'object'),
])
def test_arbitrary_objects_are_refused(tmp_path, payload, name):
    allow_mmengine_checkpoint_globals()
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=dict(w=torch.zeros(2)), extra=payload), path)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_state_dict_safely(str(path))
    msg = str(info.value)
    assert isinstance(info.value, SAIRError)
    assert '\n' not in msg and 'evil.pth was refused' in msg
    assert name in msg


def test_code_in_a_checkpoint_never_runs(tmp_path):
    allow_mmengine_checkpoint_globals()
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, extra=RunsCode(marker)), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    with pytest.raises(UnsafeCheckpointError, match='system'):
        load_checkpoint_safely(str(path))
    assert not marker.exists()


def _truncated(path):
    torch.save(dict(state_dict=dict(w=torch.zeros(64))), path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize('kind,expect', [
    ('empty', 'is an empty file'),
    ('text', 'is not a PyTorch checkpoint'),
    ('truncated', 'truncated or corrupt'),
])
def test_not_a_checkpoint_is_one_line(tmp_path, kind, expect):
    path = tmp_path / f'{kind}.pth'
    if kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'text':
        path.write_text('model = dict(type="SAIR")\n')
    else:
        _truncated(path)
    with pytest.raises(SAIRError) as info:
        load_state_dict_safely(str(path))
    msg = str(info.value)
    assert '\n' not in msg and f'{kind}.pth' in msg and expect in msg
