"""MultiOptimWrapperConstructor: one optim wrapper per named submodule, shared defaults."""
import pytest
import torch
from mmengine.optim import OptimWrapperDict
from mmengine.registry import DefaultScope

from sair_toolbox.engine.optim_wrappers.multi_optim_wrapper_constructor import \
    MultiOptimWrapperConstructor
from sair_toolbox.utils.errors import ConfigError


class TwoNets(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.generator = torch.nn.Linear(2, 2)
        self.discriminator = torch.nn.Linear(2, 1)


def _cfg(**top):
    return dict(generator=dict(optimizer=dict(type='Adam', lr=1e-3)),
                discriminator=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1),
                                   clip_grad=dict(max_norm=1.0)), **top)


def test_one_wrapper_per_submodule_over_its_own_parameters():
    model = TwoNets()
    wrappers = MultiOptimWrapperConstructor(_cfg(accumulative_counts=2))(model)
    assert isinstance(wrappers, OptimWrapperDict)
    gen, disc = wrappers['generator'], wrappers['discriminator']
    assert type(gen.optimizer).__name__ == 'Adam' and type(disc.optimizer).__name__ == 'SGD'
    assert {id(p) for p in gen.optimizer.param_groups[0]['params']} == {
        id(p) for p in model.generator.parameters()}
    assert gen._accumulative_counts == disc._accumulative_counts == 2  # shared default
    assert set(wrappers.state_dict()) == {'generator', 'discriminator'}  # both resume


def test_top_level_type_switches_plain_wrappers():
    import sair_toolbox.engine  # noqa: F401  (registers AutocastOptimWrapper)
    with DefaultScope.overwrite_default_scope('sair_toolbox'):  # as inside the Runner
        wrappers = MultiOptimWrapperConstructor(_cfg(type='AutocastOptimWrapper',
                                                     dtype='bfloat16'))(TwoNets())
    assert {type(w).__name__ for w in wrappers.values()} == {'AutocastOptimWrapper'}


def test_bad_configs_are_one_line():
    with pytest.raises(ConfigError, match='no submodule'):
        MultiOptimWrapperConstructor(dict(critic=dict(optimizer=dict(type='SGD', lr=1))))(
            TwoNets())
    with pytest.raises(ConfigError, match='paramwise_cfg'):
        MultiOptimWrapperConstructor(_cfg(), paramwise_cfg=dict(norm_decay_mult=0))
    with pytest.raises(ConfigError, match='no optimizer'):
        MultiOptimWrapperConstructor(dict(generator=dict(type='OptimWrapper')))
    with pytest.raises(ConfigError, match='one optim wrapper config per'):
        MultiOptimWrapperConstructor(dict(type='OptimWrapper'))
