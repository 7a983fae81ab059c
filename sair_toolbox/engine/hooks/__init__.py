"""Runner hooks of sair-toolbox (every module in this folder is imported and registered)."""
from sair_toolbox.utils.autoimport import import_submodules

from .inpaint_visualization_hook import InpaintVisualizationHook
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state

import_submodules(__name__, __path__)

__all__ = ['InpaintVisualizationHook', 'RNGStateHook', 'get_rng_state', 'set_rng_state']
