"""The user's side: loading a trained model (``init_model``), inference from Python
(``SAIRInferencer``, text-guided fill included), and the web demo.

Only the user-facing API lives here; what reproduces the paper is in
:mod:`sair_toolbox.experiments`, the field edits themselves in :mod:`sair_toolbox.models`.
Importing this package is cheap: models, open_clip and gradio are imported when first used.
"""
from .inferencer import InpaintResult, SAIRInferencer
from .model import init_model

__all__ = ['SAIRInferencer', 'InpaintResult', 'init_model']
