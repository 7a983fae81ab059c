"""One optimizer wrapper per named submodule (the generator and discriminator of a GAN)."""
import copy
from typing import Optional

from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from torch import nn

from sair_toolbox.registry import OPTIM_WRAPPER_CONSTRUCTORS
from sair_toolbox.utils.errors import ConfigError

#: Keys of the top-level config that are defaults of every sub-wrapper (e.g. what
#: ``tools/train.py --amp`` sets), not submodule names.
SHARED_KEYS = ('type', 'dtype', 'device_type', 'loss_scale', 'accumulative_counts', 'clip_grad')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """Build an :class:`~mmengine.optim.OptimWrapperDict` with one wrapper per submodule.

    MMEngine builds multiple optimizers only through a constructor (its default handles one).
    Config::

        optim_wrapper = dict(
            constructor='MultiOptimWrapperConstructor',
            generator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)),
            discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=4e-4)))

    Each key names a child module of the (unwrapped) model; its wrapper is built by MMEngine's
    :class:`~mmengine.optim.DefaultOptimWrapperConstructor` over that module's parameters (its own
    ``paramwise_cfg`` allowed). Top-level :data:`SHARED_KEYS` (``type``, ``dtype``, ...) are
    defaults of every sub-wrapper, and a top-level ``type`` replaces the sub-wrappers' plain
    ``OptimWrapper``: ``tools/train.py --amp`` switching ``optim_wrapper.type`` to
    ``AutocastOptimWrapper`` (with ``dtype``) thus switches both. The dict's state holds every
    optimizer's state, so resuming restores both.

    Args:
        optim_wrapper_cfg: the config above (without ``constructor``).
        paramwise_cfg: must be None here (give it per sub-wrapper).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        if paramwise_cfg is not None:
            raise ConfigError('MultiOptimWrapperConstructor: give paramwise_cfg inside each '
                              'sub-wrapper, not at the top level')
        cfg = copy.deepcopy(dict(optim_wrapper_cfg))
        shared = {k: cfg.pop(k) for k in SHARED_KEYS if k in cfg}
        if not cfg or any(not isinstance(v, dict) for v in cfg.values()):
            raise ConfigError('MultiOptimWrapperConstructor needs one optim wrapper config per '
                              f'submodule (e.g. generator=dict(...)), got keys {sorted(cfg)}')
        self.sub_cfgs = {}
        for name, sub in cfg.items():
            sub = dict(sub)
            for k, v in shared.items():
                if k == 'type':
                    # A top-level type other than the plain wrapper (--amp) replaces the plain
                    # one; a sub-wrapper's own special type is kept.
                    if v != 'OptimWrapper' and sub.get('type', 'OptimWrapper') == 'OptimWrapper':
                        sub['type'] = v
                else:
                    sub.setdefault(k, v)
            if 'optimizer' not in sub:
                raise ConfigError(f'MultiOptimWrapperConstructor: {name} has no optimizer')
            self.sub_cfgs[name] = sub

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        module = model.module if is_model_wrapper(model) else model
        wrappers = {}
        for name, sub in self.sub_cfgs.items():
            child = getattr(module, name, None)
            if not isinstance(child, nn.Module):
                raise ConfigError(f'MultiOptimWrapperConstructor: the model has no submodule '
                                  f'{name!r}')
            if is_model_wrapper(child):  # MMSeparateDistributedDataParallel wraps each child
                child = child.module
            sub = copy.deepcopy(sub)
            paramwise = sub.pop('paramwise_cfg', None)
            wrappers[name] = DefaultOptimWrapperConstructor(sub, paramwise)(child)
        return OptimWrapperDict(**wrappers)
