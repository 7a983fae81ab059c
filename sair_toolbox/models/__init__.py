"""Models: register every component on import (the registries' ``locations`` point here)."""
from . import (appearance_encoders, discriminators, fusions, implicit_heads,  # noqa: F401
               losses, semantic_encoders, weights_providers)
from .data_preprocessor import InpaintDataPreprocessor
from .demo_feature_net import DemoFeatureNet
from .inpaint_gan import InpaintGAN
from .sair import SAIR
from .sir import SemanticImplicitRepresentation
from .sir_pretrainer import SIRPretrainer

__all__ = ['DemoFeatureNet', 'InpaintDataPreprocessor', 'InpaintGAN', 'SAIR',
           'SemanticImplicitRepresentation', 'SIRPretrainer']
