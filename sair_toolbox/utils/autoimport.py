"""Import every module of a package so that its ``register_module`` decorators run."""
import importlib
import pkgutil
from typing import List


def import_submodules(package_name: str, package_path: List[str]) -> None:
    """Import all modules (not sub-packages' private files) found in ``package_path``.

    Called from a component package's ``__init__`` so that a new file dropped into the folder is
    registered without editing any other file.

    Args:
        package_name: the package's ``__name__``.
        package_path: the package's ``__path__``.
    """
    for info in pkgutil.iter_modules(package_path):
        if info.name.startswith('_'):
            continue
        importlib.import_module(f'{package_name}.{info.name}')
