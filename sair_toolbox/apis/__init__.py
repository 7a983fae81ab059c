"""The user's side: inference from Python (``SAIRInferencer``), text-guided fill, the web demo.

Importing this package is cheap: models, open_clip and gradio are imported when first used.
"""
from .inferencer import InpaintResult, SAIRInferencer

__all__ = ['SAIRInferencer', 'InpaintResult']
