import socket

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config

from sair_toolbox.utils.dist import setup_cpu_distributed, shutdown_distributed
from sair_toolbox.utils.errors import ConfigError

cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path is for CPU machines')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_launcher_none_changes_nothing():
    cfg = Config(dict(model=dict(type='X')))
    assert setup_cpu_distributed(cfg, 'none') is False
    assert 'model_wrapper_cfg' not in cfg


def test_unknown_launcher():
    with pytest.raises(ConfigError, match='unknown launcher'):
        setup_cpu_distributed(Config(), 'ssh')


@cpu_only
def test_missing_launcher_environment_is_one_line(monkeypatch):
    for name in ('RANK', 'WORLD_SIZE'):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match='needs the environment variable RANK'):
        setup_cpu_distributed(Config(), 'pytorch')


@cpu_only
@pytest.mark.parametrize('launcher,env', [
    ('pytorch', dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0')),
    ('mpi', dict(OMPI_COMM_WORLD_RANK='0', OMPI_COMM_WORLD_SIZE='1',
                 OMPI_COMM_WORLD_LOCAL_RANK='0')),
])
def test_gloo_group_and_cpu_ddp_wrapper(monkeypatch, launcher, env):
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(name, raising=False)
    for name, value in dict(env, MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(name, value)
    cfg = Config(dict(find_unused_parameters=True,
                      env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60))))
    try:
        assert setup_cpu_distributed(cfg, launcher) is True
        assert torch_dist.is_initialized()
        assert torch_dist.get_backend() == 'gloo'
        assert (torch_dist.get_rank(), torch_dist.get_world_size()) == (0, 1)
        assert cfg.model_wrapper_cfg == dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=True)
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        # A wrapper given by the config is kept; DDP gets device_ids=None on CPU.
        cfg2 = Config(dict(model_wrapper_cfg=dict(type='MMDistributedDataParallel',
                                                  broadcast_buffers=True)))
        assert setup_cpu_distributed(cfg2, launcher) is True  # group already exists
        assert cfg2.model_wrapper_cfg == dict(type='MMDistributedDataParallel',
                                              broadcast_buffers=True, device_ids=None)
    finally:
        shutdown_distributed()
    assert not torch_dist.is_initialized()
