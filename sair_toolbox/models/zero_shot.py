"""Zero-shot labels from text-aligned semantic features (CLIP space), in one place.

A text-aligned semantic encoder (MaskCLIP) maps an image to a feature grid (B, c, h, w) in the
space of CLIP's text embeddings. A class is named by its text embedding (L, c); a pixel's label
is the class of highest cosine similarity. Everything that turns features into labels uses this
module: the segmentation check (:mod:`sair_toolbox.evaluation.segmentation`, paper Tab. 5), the
text-guided fill measurement (:mod:`sair_toolbox.evaluation.text_guided_fill`), the demo CLIP's
pretraining report (:mod:`sair_toolbox.models.weights_providers.demo_clip_pretraining`), the
label maps of Fig. 3 (:mod:`sair_toolbox.visualization.label_maps`) and the inferencer.

* :func:`labels_from_features`: (B, c, H, W) features x (L, c) texts -> (B, H, W) labels.
* :func:`resize_features`: MaskCLIP's naive bilinear resize of a feature grid to the image.
* :func:`zero_shot_labels`: encode -> resize -> label, for images (the three former copies).
* :func:`confusion_counts`, :func:`scores_from_confusion`: mIoU arithmetic (mmseg's convention).
* :func:`semantic_encoder_cfg`, :func:`build_text_embedder`, :func:`build_text_embeddings`: the
  CLIP text tower whose weights match a model config's semantic encoder.
"""
import math
from typing import Any, Callable, Dict, Mapping, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from sair_toolbox.utils.errors import ConfigError, ShapeError


def labels_from_features(features: Tensor, text_embeddings: Tensor) -> Tensor:
    """Per-pixel argmax of the cosine similarity between features and class embeddings.

    Args:
        features: (B, c, H, W) semantic feature field.
        text_embeddings: (L, c) class embeddings (normalised here, any norm accepted).

    Returns:
        (B, H, W) int64 labels in [0, L).
    """
    if features.dim() != 4 or text_embeddings.dim() != 2 or \
            features.shape[1] != text_embeddings.shape[1]:
        raise ShapeError(f'features (B, c, H, W) and text embeddings (L, c) must share c, got '
                         f'{tuple(features.shape)} and {tuple(text_embeddings.shape)}')
    text = F.normalize(text_embeddings.to(features.device, torch.float32), dim=1)
    labels = []
    for feat in features:  # one image at a time: L x H x W similarities can be large
        feat = F.normalize(feat.float(), dim=0)
        labels.append(torch.einsum('chw,lc->lhw', feat, text).argmax(0))
    return torch.stack(labels)


def resize_features(features: Tensor, size: Tuple[int, int]) -> Tensor:
    """Bilinear resize of a feature grid (MaskCLIP's naive upsampling; dtype kept).

    Args:
        features: (B, c, h, w).
        size: ``(H, W)``.

    Returns:
        (B, c, H, W), ``align_corners=False``.
    """
    return F.interpolate(features, size=tuple(size), mode='bilinear', align_corners=False)


def zero_shot_labels(encoder: Callable[[Tensor], Tensor], images: Tensor,
                     text_embeddings: Tensor) -> Tensor:
    """Zero-shot labels of images: ``encoder(images)``, resized to the images, labelled.

    The encoder runs on float32 images and its features are resized in float32 (also under
    autocast), then :func:`labels_from_features`.

    Args:
        encoder: a semantic encoder, ``(B, 3, H, W)`` in [0, 1] -> ``(B, c, h, w)``.
        images: (B, 3, H, W) in [0, 1].
        text_embeddings: (L, c) class embeddings.

    Returns:
        (B, H, W) int64 labels in [0, L).
    """
    feats = encoder(images.float())
    return labels_from_features(resize_features(feats.float(), images.shape[-2:]),
                                text_embeddings)


def confusion_counts(pred: Tensor, gt: Tensor, num_classes: int) -> Tensor:
    """Confusion matrix of flat label vectors (already filtered to the pixels that count).

    Args:
        pred: (N,) int predicted labels in [0, L).
        gt: (N,) int ground-truth labels in [0, L).
        num_classes: L.

    Returns:
        (L, L) int64 on the CPU, rows = ground truth, columns = prediction.
    """
    n = int(num_classes)
    return torch.bincount(gt.long() * n + pred.long(), minlength=n * n).reshape(n, n).cpu()


def _nanmean(values: Tensor) -> float:
    valid = values[~torch.isnan(values)]
    return float(valid.mean()) if valid.numel() else math.nan


def scores_from_confusion(confusion: Tensor) -> Dict[str, Any]:
    """mIoU, pixel accuracy and per-class scores of a confusion matrix (mmseg's convention).

    IoU_k = TP / (TP + FP + FN) per class, nan for a class with an empty union (neither in the
    ground truth nor predicted); mIoU and mAcc are nan-means. The dataset-level metric is
    :class:`sair_toolbox.evaluation.segmentation.SegmentationMIoU`; this is its arithmetic, here
    so that the model layer (the demo CLIP's pretraining report) scores zero-shot labels the
    same way without importing the evaluation layer.

    Args:
        confusion: (L, L) counts, rows = ground truth, columns = prediction.

    Returns:
        dict with ``mIoU``, ``aAcc``, ``mAcc`` (fractions in [0, 1], nan when empty), ``IoU``
        and ``Acc`` (lists of L floats) and ``num_pixels``.
    """
    cm = confusion.double()
    tp = cm.diag()
    gt_count = cm.sum(1)
    union = gt_count + cm.sum(0) - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, math.nan))
    acc = torch.where(gt_count > 0, tp / gt_count.clamp(min=1), torch.full_like(tp, math.nan))
    total = float(cm.sum())
    return {
        'mIoU': _nanmean(iou),
        'aAcc': float(tp.sum()) / total if total else math.nan,
        'mAcc': _nanmean(acc),
        'IoU': iou.tolist(),
        'Acc': acc.tolist(),
        'num_pixels': int(total),
    }


def semantic_encoder_cfg(model_cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """The semantic encoder's config inside a model config.

    Looks at ``model.semantic_encoder``, then ``model.sir.encoder`` (the layout of the SAIR
    configs), then the same inside ``model.generator`` (an adversarial wrapper such as
    ``InpaintGAN``). The encoder must be text-aligned (CLIP): a SAM encoder has no text tower.

    Raises:
        ConfigError: no semantic encoder, or one without a CLIP ``arch``.
    """
    enc = model_cfg.get('semantic_encoder')
    if enc is None and isinstance(model_cfg.get('sir'), Mapping):
        enc = model_cfg['sir'].get('encoder')
    if enc is None and isinstance(model_cfg.get('generator'), Mapping):
        return semantic_encoder_cfg(model_cfg['generator'])
    if not isinstance(enc, Mapping):
        raise ConfigError('the model config has no semantic encoder (model.semantic_encoder or '
                          'model.sir.encoder) to take the CLIP weights for the text embeddings '
                          'from; the segmentation check needs the semantic branch')
    enc = dict(enc)
    if 'SAM' in str(enc.get('type', '')):
        raise ConfigError(f"the segmentation check needs a CLIP (text-aligned) semantic encoder; "
                          f"this model uses {enc['type']}, which has no text embeddings")
    return enc


def build_text_embedder(semantic_encoder_cfg: Mapping[str, Any], device: str = 'cpu'):
    """The :class:`~sair_toolbox.models.text_embedder.CLIPTextEmbedder` with the semantic
    encoder's CLIP weights.

    Args:
        semantic_encoder_cfg: ``cfg.model.semantic_encoder`` (``arch``, ``pretrained``,
            optional ``model_cfg``, ``cache_dir``, ``templates``).
        device: where to run the text tower.
    """
    from .text_embedder import CLIPTextEmbedder
    cfg = dict(semantic_encoder_cfg or {})
    kwargs = {k: cfg[k] for k in ('arch', 'model_cfg', 'cache_dir', 'templates')
              if cfg.get(k) is not None}
    if 'pretrained' in cfg:  # None = random init (warned), which must not fall back to 'openai'
        kwargs['pretrained'] = cfg['pretrained']
    return CLIPTextEmbedder(**kwargs).to(device)


def build_text_embeddings(semantic_encoder_cfg: Mapping[str, Any],
                          class_names: Sequence[str],
                          device: str = 'cpu') -> Tensor:
    """CLIP text embeddings of the class names with the semantic encoder's CLIP weights.

    Args:
        semantic_encoder_cfg: see :func:`build_text_embedder`.
        class_names: L names (``dataset.metainfo['classes']``).
        device: where to run the text tower.

    Returns:
        (L, c) unit-norm float32 on ``device``.
    """
    embedder = build_text_embedder(semantic_encoder_cfg, device)
    return embedder.embed(list(class_names)).to(device)


__all__ = ['labels_from_features', 'resize_features', 'zero_shot_labels', 'confusion_counts',
           'scores_from_confusion', 'semantic_encoder_cfg', 'build_text_embedder',
           'build_text_embeddings']
