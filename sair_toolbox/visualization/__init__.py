"""Pictures of what the models compute: zero-shot class maps, training curves, sample grids.

Heavy imports (matplotlib) happen inside the functions that draw, so importing this package is
cheap.
"""
from .curves import load_runs, plot_curves, read_scalars
from .label_maps import colorize_labels, default_palette, zero_shot_label_map
from .sample_grid import colorize_with_ignore, compose_grid, masked_view, to_uint8_image

__all__ = [
    'colorize_labels', 'default_palette', 'zero_shot_label_map', 'load_runs', 'plot_curves',
    'read_scalars', 'colorize_with_ignore', 'compose_grid', 'masked_view', 'to_uint8_image'
]
