"""Runner loops of sair-toolbox (every module in this folder is imported and registered)."""
from sair_toolbox.utils.autoimport import import_submodules

from .precision_test_loop import PrecisionTestLoop

import_submodules(__name__, __path__)

__all__ = ['PrecisionTestLoop']
