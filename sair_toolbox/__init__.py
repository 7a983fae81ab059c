"""sair-toolbox: SAIR (semantic-aware implicit representation) for image inpainting."""
from .version import __version__

__all__ = ['__version__']
