import torch
from mmengine.registry import DefaultScope

from sair_toolbox.engine.setup import register_all_modules
from sair_toolbox.registry import HOOKS
from sair_toolbox.utils.checkpoint import mmengine_checkpoint_globals


def test_register_all_modules_sets_scope_and_registers():
    register_all_modules(init_default_scope=True)
    assert DefaultScope.get_current_instance().scope_name == 'sair_toolbox'
    assert HOOKS.get('RNGStateHook') is not None
    # HOOKS.build under the default scope, as configs do.
    assert type(HOOKS.build(dict(type='RNGStateHook'))).__name__ == 'RNGStateHook'
    allowed = set(torch.serialization.get_safe_globals())
    assert all(entry in allowed for entry in mmengine_checkpoint_globals())
