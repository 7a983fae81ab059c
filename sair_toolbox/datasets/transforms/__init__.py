"""Pipeline transforms (registered in ``sair_toolbox.registry.TRANSFORMS``).

Every module in this folder is imported, so a new transform file registers itself.
"""
from sair_toolbox.utils.autoimport import import_submodules

import_submodules(__name__, __path__)

from .formatting import PackInpaintInputs  # noqa: E402
from .geometric import CenterCrop, RandomCrop, RandomFlip, RandomResizedCrop, Resize  # noqa: E402
from .loading import LoadImage, LoadLabelMap  # noqa: E402
from .masking import GenerateMask, LoadMask  # noqa: E402

__all__ = [
    'LoadImage', 'LoadLabelMap', 'Resize', 'CenterCrop', 'RandomCrop', 'RandomResizedCrop',
    'RandomFlip', 'GenerateMask', 'LoadMask', 'PackInpaintInputs'
]
