"""Models: register every component on import (the registries' ``locations`` point here)."""
from . import (appearance_encoders, fusions, implicit_heads, semantic_encoders,  # noqa: F401
               weights_providers)
from .data_preprocessor import InpaintDataPreprocessor
from .sair import SAIR
from .sir import SemanticImplicitRepresentation
from .sir_pretrainer import SIRPretrainer

__all__ = ['InpaintDataPreprocessor', 'SAIR', 'SemanticImplicitRepresentation', 'SIRPretrainer']
