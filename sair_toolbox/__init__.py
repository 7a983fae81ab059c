"""sair-toolbox: SAIR (semantic-aware implicit representation) for image inpainting.

Layers, top to bottom; each imports only from those below it (``setup.cfg``'s import-linter
contract): ``experiments`` (the paper's tables and figures) -> ``apis`` (the user API) ->
``engine`` (the Runner) -> ``visualization`` -> ``evaluation`` -> ``models`` -> ``datasets`` ->
``utils`` / ``structures`` / ``registry``. ``tools/`` are thin command lines over them.
"""
from .version import __version__

__all__ = ['__version__']
