"""Distributed training on CPU-only machines (gloo) with MMEngine's Runner.

MMEngine 0.10's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally and its default DDP
wrapper passes ``device_ids=[LOCAL_RANK]``; both fail without CUDA. :func:`setup_cpu_distributed`
initialises the process group with gloo itself (the Runner then sees ``is_distributed()`` and skips
``init_dist``) and gives the Runner a DDP wrapper config with ``device_ids=None``. On machines with
CUDA it does nothing and MMEngine's own path (nccl) is used.
"""
import datetime
import os
import subprocess
from typing import Dict

import torch
import torch.distributed as torch_dist

from .errors import ConfigError

_LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def _env_int(name: str, launcher: str) -> int:
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(f'--launcher {launcher} needs the environment variable {name} '
                          '(start the job with tools/dist_train.sh, torchrun, srun or mpirun)')
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f'environment variable {name}={value!r} is not an integer') from None


def _rendezvous_env(launcher: str) -> Dict[str, int]:
    """Rank, world size and local rank for ``launcher``; sets the env vars torch's ``env://`` needs.

    torchrun sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_ADDR``/``MASTER_PORT``; for slurm
    and mpi they are derived like MMEngine does (``SLURM_*`` / ``OMPI_COMM_WORLD_*``).
    """
    if launcher == 'pytorch':
        rank = _env_int('RANK', launcher)
        world_size = _env_int('WORLD_SIZE', launcher)
        local_rank = int(os.environ.get('LOCAL_RANK', rank))
    elif launcher == 'slurm':
        rank = _env_int('SLURM_PROCID', launcher)
        world_size = _env_int('SLURM_NTASKS', launcher)
        local_rank = int(os.environ.get('SLURM_LOCALID', 0))
        if 'MASTER_ADDR' not in os.environ:
            node_list = os.environ.get('SLURM_NODELIST', 'localhost')
            addr = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1').strip()
            os.environ['MASTER_ADDR'] = addr or 'localhost'
    elif launcher == 'mpi':
        rank = _env_int('OMPI_COMM_WORLD_RANK', launcher)
        world_size = _env_int('OMPI_COMM_WORLD_SIZE', launcher)
        local_rank = _env_int('OMPI_COMM_WORLD_LOCAL_RANK', launcher)
        if 'MASTER_ADDR' not in os.environ:
            raise ConfigError('--launcher mpi needs the environment variable MASTER_ADDR')
    else:
        raise ConfigError(f'unknown launcher {launcher!r}; expected one of {_LAUNCHERS}')
    os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['RANK'] = str(rank)
    os.environ['WORLD_SIZE'] = str(world_size)
    os.environ['LOCAL_RANK'] = str(local_rank)
    return dict(rank=rank, world_size=world_size, local_rank=local_rank)


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Prepare distributed training without CUDA: gloo process group + CPU-friendly DDP wrapper.

    Does nothing when ``launcher == 'none'``, when CUDA is available (MMEngine initialises nccl
    itself) or when a process group already exists (apart from the wrapper config).

    Args:
        cfg (mmengine.Config): the run's config; ``model_wrapper_cfg`` is set to
            ``MMDistributedDataParallel`` with ``device_ids=None`` unless the config sets one (a
            config-given DDP wrapper without ``device_ids`` gets ``device_ids=None``), and
            ``env_cfg.dist_cfg.backend`` is set to ``'gloo'`` so the dumped config says what ran.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        bool: True if the CPU path was taken.

    Raises:
        ConfigError: unknown launcher or missing launcher environment variables.
    """
    if launcher not in _LAUNCHERS:
        raise ConfigError(f'unknown launcher {launcher!r}; expected one of {_LAUNCHERS}')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if not torch_dist.is_initialized():
        info = _rendezvous_env(launcher)
        timeout = (cfg.get('env_cfg') or {}).get('dist_cfg', {}).get('timeout')
        kwargs = {} if timeout is None else dict(timeout=datetime.timedelta(seconds=timeout))
        torch_dist.init_process_group(
            backend='gloo', init_method='env://', rank=info['rank'],
            world_size=info['world_size'], **kwargs)
    env_cfg = cfg.get('env_cfg') or {}
    env_cfg.setdefault('dist_cfg', {})
    env_cfg['dist_cfg']['backend'] = 'gloo'
    cfg.env_cfg = env_cfg
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    elif 'DistributedDataParallel' in str(wrapper.get('type', 'MMDistributedDataParallel')):
        wrapper.setdefault('device_ids', None)
    return True


def shutdown_distributed() -> None:
    """Destroy the default process group, if any, so that every rank exits cleanly.

    Without it, a gloo rank can abort at interpreter exit ("terminate called without an active
    exception") after training has finished.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
