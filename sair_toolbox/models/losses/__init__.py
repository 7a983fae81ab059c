# Import every module in this folder so that a new component file registers itself.
from sair_toolbox.utils.autoimport import import_submodules

import_submodules(__name__, __path__)
