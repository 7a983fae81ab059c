"""Training infrastructure around MMEngine's Runner: hooks, optim wrappers, safe checkpoints.

Importing this package registers the hooks in ``sair_toolbox.registry.HOOKS`` (the registry's
``locations`` point here), ``PrecisionTestLoop`` in ``LOOPS`` and ``AutocastOptimWrapper`` in
``OPTIM_WRAPPERS``, and allow-lists MMEngine's checkpoint types for
``torch.load(weights_only=True)`` so that ``resume`` and ``load_from`` work under torch >= 2.6.
:mod:`sair_toolbox.engine.setup` registers every component and builds the Runner (the tools'
shared start).
"""
from sair_toolbox.utils.checkpoint import allow_mmengine_checkpoint_globals

from .hooks import *  # noqa: F401,F403
from .hooks import __all__ as _hooks_all
from .loops import PrecisionTestLoop
from .optim_wrappers import AutocastOptimWrapper

allow_mmengine_checkpoint_globals()

__all__ = list(_hooks_all) + ['AutocastOptimWrapper', 'PrecisionTestLoop']
