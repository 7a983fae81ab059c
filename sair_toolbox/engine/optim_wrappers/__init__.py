"""Optimizer wrappers of sair-toolbox (every module in this folder is imported and registered)."""
from sair_toolbox.utils.autoimport import import_submodules

from .autocast_optim_wrapper import AutocastOptimWrapper

import_submodules(__name__, __path__)

__all__ = ['AutocastOptimWrapper']
