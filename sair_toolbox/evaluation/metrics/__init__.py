"""Metrics registered in ``METRICS`` (found through the registry's ``locations``)."""
from .inpainting_metric import InpaintingMetric

__all__ = ['InpaintingMetric']
