"""Evaluation: the inpainting metrics (paper Tab. 1-2), result tables and the segmentation check.

Importing this package registers :class:`InpaintingMetric` in ``METRICS`` (the registry's
``locations`` point here).
"""
from .image_quality import l1, psnr, ssim, to_uint8
from .lpips_loader import build_lpips
from .metrics import InpaintingMetric
from .results_table import (format_comparison, format_table, load_results, parse_metrics,
                            write_results)
from .segmentation import SegmentationMIoU, evaluate_segmentation, format_segmentation_table

__all__ = [
    'InpaintingMetric', 'psnr', 'ssim', 'l1', 'to_uint8', 'build_lpips', 'format_table',
    'format_comparison', 'write_results', 'load_results', 'parse_metrics', 'SegmentationMIoU',
    'evaluate_segmentation', 'format_segmentation_table'
]
