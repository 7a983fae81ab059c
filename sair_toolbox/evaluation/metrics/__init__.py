"""Metrics registered in ``METRICS`` (found through the registry's ``locations``)."""
from .distribution_metric import DistributionMetric
from .inpainting_metric import InpaintingMetric

__all__ = ['DistributionMetric', 'InpaintingMetric']
