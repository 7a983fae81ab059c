"""Every registry of sair_toolbox.registry builds its components inside a real Runner.

The Runner always sets ``default_scope``; MMEngine then resolves a build by searching the root of
the registry's tree for the registry whose scope is ``'sair_toolbox'``. The children of MMEngine's
registries are found that way, and so are the parentless component registries (each is its own
root). A component registry nested under ``MODELS`` would resolve to ``MODELS`` and miss its own
components: the last test shows it.
"""
import pytest
from mmengine.registry import DefaultScope, Registry
from mmengine.runner import Runner

import sair_toolbox.registry as registry_module
from sair_toolbox.registry import MODELS
from sair_toolbox.engine.setup import register_all_modules
from tests.test_engine.tiny_run import tiny_cfg

# The module's own registries (not the MMEngine parents it imports as MMENGINE_*).
REGISTRIES = {name: obj for name, obj in vars(registry_module).items()
              if isinstance(obj, Registry) and not name.startswith('MMENGINE_')}
PARENTLESS = ('SEMANTIC_ENCODERS', 'APPEARANCE_ENCODERS', 'IMPLICIT_HEADS', 'SEMANTIC_FUSIONS',
              'WEIGHTS_PROVIDERS', 'LOSSES', 'DISCRIMINATORS')


class Probe:
    """A component with one argument, registered temporarily."""

    def __init__(self, value=0):
        self.value = value


@pytest.fixture(scope='module')
def runner(tmp_path_factory):
    register_all_modules(init_default_scope=False)
    runner = Runner.from_cfg(tiny_cfg(tmp_path_factory.mktemp('registry')))
    assert DefaultScope.get_current_instance().scope_name == 'sair_toolbox'
    return runner


def test_registry_layout():
    assert set(PARENTLESS) | {'MODELS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'METRICS',
                              'HOOKS', 'LOOPS', 'VISUALIZERS'} <= set(REGISTRIES)
    for name, reg in REGISTRIES.items():
        assert reg.scope == 'sair_toolbox', name
        assert (reg.parent is None) == (name in PARENTLESS), name


@pytest.mark.parametrize('name', sorted(REGISTRIES))
def test_every_registry_builds_under_the_runner_scope(runner, name):
    reg = REGISTRIES[name]
    type_name = f'RegistryProbe{name.title().replace("_", "")}'
    reg.register_module(name=type_name, module=Probe, force=True)
    try:
        # Inside the Runner's scope, as the Runner itself builds (and also with it re-entered).
        obj = reg.build(dict(type=type_name, value=7))
        with DefaultScope.overwrite_default_scope('sair_toolbox'):
            again = reg.build(dict(type=type_name, value=8))
    finally:
        reg._module_dict.pop(type_name)
    assert isinstance(obj, Probe) and obj.value == 7 and again.value == 8


def test_runner_built_real_components(runner):
    """The Runner found the model and the hook of the config through these registries."""
    from sair_toolbox.engine.hooks import RNGStateHook
    assert any(isinstance(h, RNGStateHook) for h in runner.hooks)
    assert type(runner.model).__module__.startswith(('sair_toolbox', 'tests'))


def test_child_of_models_would_miss_its_components(runner):
    """Why the component registries are parentless: a child of MODELS is not searched."""
    child = Registry('nested component', parent=MODELS, scope='sair_toolbox_nested')
    parentless = Registry('parentless component', scope='sair_toolbox')
    try:
        child.register_module(name='NestedProbe', module=Probe)
        parentless.register_module(name='ParentlessProbe', module=Probe)
        assert DefaultScope.get_current_instance().scope_name == 'sair_toolbox'
        with pytest.raises(KeyError, match='NestedProbe is not in the'):
            child.build(dict(type='NestedProbe'))
        assert isinstance(parentless.build(dict(type='ParentlessProbe')), Probe)
    finally:
        MODELS._children.pop('sair_toolbox_nested', None)
