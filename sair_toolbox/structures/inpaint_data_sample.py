"""The data sample that travels with each image through pipeline, model and metrics."""
from mmengine.structures import BaseDataElement


class InpaintDataSample(BaseDataElement):
    """Per-image annotations and predictions.

    Data fields (set by the pipeline):
        mask (Tensor): (1, H, W) float, 1 = missing, 0 = known.
        gt_sem_seg (Tensor, optional): (H, W) int64 label map; 255 = ignore.

    Data fields (set by ``SAIR.predict``):
        gt_img (Tensor): (3, H, W) float in [0, 1], the ground-truth image.
        pred_img (Tensor): (3, H, W) float in [0, 1], the raw implicit prediction.
        output_img (Tensor): (3, H, W) float in [0, 1], composite ``I * (1 - M) + pred * M``.

    Metainfo (set by the pipeline): ``img_path``, ``ori_shape``, ``sample_idx``, ``mask_ratio``
    (hole fraction in [0, 1]), ``mask_bin`` (e.g. ``'0-20'``), ``mask_source``.
    """
