"""The segmentation check of the paper's Tab. 5: zero-shot labels from semantic features.

Class names are embedded with the CLIP text encoder (L x c, unit norm); every pixel of a semantic
feature field (B, c, H, W) gets the class of highest cosine similarity; the label map is scored
with mIoU against the ground truth. :func:`evaluate_segmentation` does this for the raw
(bilinearly resized) features of the masked image ("without SIR") and for the SIR-completed field
("with SIR"), over the whole image and inside the hole only.

mIoU follows mmseg's ``IoUMetric``: one confusion matrix over the whole dataset (pixels labelled
``ignore_index`` skipped), IoU_k = TP / (TP + FP + FN) per class, and mIoU the mean over the
classes whose union is non-empty (present in the ground truth or predicted: ``nanmean``). Values
are fractions in [0, 1], as in the paper's Tab. 5 (0.17 / 0.45).

This module holds the metric (:class:`SegmentationMIoU`), its loop (:func:`evaluate_segmentation`)
and its table (:func:`format_segmentation_table`). The zero-shot labelling and the text
embeddings of a model config's CLIP are model code: :mod:`sair_toolbox.models.zero_shot`.
"""
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch

from sair_toolbox.models.zero_shot import (confusion_counts, labels_from_features,
                                           scores_from_confusion)
from sair_toolbox.utils.errors import ConfigError, DataError, ShapeError

#: The two variants of Tab. 5, as keys of :func:`evaluate_segmentation`'s result.
VARIANTS = (('without_sir', False), ('with_sir', True))
#: Pixel sets scored: the whole image, and the hole (mask = 1) only.
REGIONS = ('all', 'hole')


class SegmentationMIoU:
    """Dataset-level confusion matrix and mIoU (mmseg's convention, see the module doc).

    Args:
        num_classes: L, labels are 0..L-1.
        ignore_index: ground-truth value to skip (255).
        class_names: optional names, echoed by :meth:`compute`.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 class_names: Optional[Sequence[str]] = None) -> None:
        if num_classes < 1:
            raise ConfigError(f'num_classes must be >= 1, got {num_classes}')
        if class_names is not None and len(class_names) != num_classes:
            raise ConfigError(f'{len(class_names)} class names for {num_classes} classes')
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.class_names = list(class_names) if class_names is not None else None
        self.reset()

    def reset(self) -> None:
        """Clear the confusion matrix."""
        #: (L, L) int64, rows = ground truth, columns = prediction.
        self.confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)

    def update(self, pred: torch.Tensor, gt: torch.Tensor,
               valid: Optional[torch.Tensor] = None) -> None:
        """Add label maps.

        Args:
            pred: (..., H, W) int predicted labels in [0, L).
            gt: the same shape, ground-truth labels in [0, L) or ``ignore_index``.
            valid: optional bool mask of the same shape; only True pixels count (e.g. the hole).
        """
        if pred.shape != gt.shape or (valid is not None and valid.shape != gt.shape):
            raise ShapeError(f'prediction {tuple(pred.shape)}, ground truth {tuple(gt.shape)}'
                             + (f' and region {tuple(valid.shape)}' if valid is not None else '')
                             + ' must have the same shape')
        keep = gt != self.ignore_index
        if valid is not None:
            keep &= valid.to(torch.bool)
        g = gt[keep].long()
        p = pred.to(gt.device)[keep].long()
        if g.numel() == 0:
            return
        n = self.num_classes
        if int(g.min()) < 0 or int(g.max()) >= n:
            bad = int(g.max()) if int(g.max()) >= n else int(g.min())
            raise DataError(f'ground-truth label {bad} is outside [0, {n}) and is not the ignore '
                            f'index {self.ignore_index}: do the class names match the labels?')
        if int(p.min()) < 0 or int(p.max()) >= n:
            raise ShapeError(f'predicted labels must be in [0, {n}), got [{int(p.min())}, '
                             f'{int(p.max())}]')
        self.confusion += confusion_counts(p, g, n)

    def compute(self) -> Dict[str, Any]:
        """Scores of everything added so far.

        Returns:
            dict with ``mIoU`` (nan-mean of per-class IoU), ``aAcc`` (pixel accuracy),
            ``mAcc`` (nan-mean of per-class recall), ``IoU`` and ``Acc`` (lists of L floats,
            nan for classes with no pixels), ``num_pixels`` and, if given, ``classes``.
            All scores are fractions in [0, 1]; nan when nothing was added.
        """
        result = scores_from_confusion(self.confusion)
        if self.class_names is not None:
            result['classes'] = list(self.class_names)
        return result


def _field(sample: Any, key: str) -> Any:
    value = sample.get(key) if isinstance(sample, Mapping) else getattr(sample, key, None)
    if value is None:
        path = (sample.get('img_path') if isinstance(sample, Mapping) else
                getattr(sample, 'metainfo', {}).get('img_path'))
        raise DataError(f'data sample of {path} has no {key!r}; the segmentation check needs '
                        'masks and per-pixel labels (gt_sem_seg) from the dataset')
    return value


def _label_map(sample: Any) -> torch.Tensor:
    seg = _field(sample, 'gt_sem_seg')
    if not isinstance(seg, torch.Tensor) and hasattr(seg, 'data'):  # mmseg-style PixelData
        seg = seg.data
    seg = torch.as_tensor(seg)
    if seg.dim() == 3 and seg.shape[0] == 1:
        seg = seg[0]
    if seg.dim() != 2:
        raise ShapeError(f'gt_sem_seg must be (H, W), got {tuple(seg.shape)}')
    return seg.long()


def _bin_of(sample: Any) -> Optional[str]:
    meta = sample if isinstance(sample, Mapping) else getattr(sample, 'metainfo', {})
    return meta.get('mask_bin')


@torch.no_grad()
def evaluate_segmentation(model: Any,
                          dataloader: Iterable,
                          text_embeddings: torch.Tensor,
                          device: str = 'cpu',
                          mask_bin: Optional[str] = None,
                          ignore_index: int = 255,
                          class_names: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """mIoU of zero-shot labels from the semantic field, without and with SIR (paper Tab. 5).

    For each batch: ``data = model.data_preprocessor(batch, False)``; inputs (B, 3, H, W) in
    [0, 1], masks (B, 1, H, W) (1 = missing) and labels (B, H, W) come from it; then for
    ``use_sir`` in (False, True): ``model.semantic_features(inputs, masks, use_sir=use_sir,
    size=(H, W))`` -> (B, c, H, W) -> :func:`labels_from_features` -> confusion matrices over all
    labelled pixels and over the hole pixels only.

    Args:
        model: exposes ``data_preprocessor`` and ``semantic_features`` (e.g. ``SAIR``).
        dataloader: yields batches the data preprocessor accepts (``pseudo_collate`` dicts).
        text_embeddings: (L, c) class embeddings; label k <-> row k.
        device: where to run.
        mask_bin: only score samples whose ``mask_bin`` metainfo equals this (e.g. ``'40-60'``).
        ignore_index: ground-truth value to skip.
        class_names: optional names echoed in the result.

    Returns:
        ``{'without_sir': {'all': scores, 'hole': scores}, 'with_sir': {...},
        'num_images': N, 'num_classes': L, 'mask_bin': mask_bin}``, where ``scores`` is
        :meth:`SegmentationMIoU.compute`'s dict.
    """
    if hasattr(model, 'to'):
        model.to(device)
    if hasattr(model, 'eval'):
        model.eval()
    text = torch.as_tensor(text_embeddings).to(device)
    if text.dim() != 2:
        raise ShapeError(f'text embeddings must be (L, c), got {tuple(text.shape)}')
    num_classes = text.shape[0]
    meters = {(v, r): SegmentationMIoU(num_classes, ignore_index, class_names)
              for v, _ in VARIANTS for r in REGIONS}
    num_images = 0
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        inputs, samples = data['inputs'], list(data['data_samples'])
        keep = [i for i, s in enumerate(samples) if mask_bin is None or _bin_of(s) == mask_bin]
        if not keep:
            continue
        if len(keep) < len(samples):
            inputs = inputs[keep]
            samples = [samples[i] for i in keep]
        inputs = inputs.to(device)
        masks = torch.stack([torch.as_tensor(_field(s, 'mask')) for s in samples])
        masks = masks.to(device=device, dtype=inputs.dtype)
        gts = torch.stack([_label_map(s) for s in samples]).to(device)
        if masks.dim() != 4 or masks.shape[1] != 1 or masks.shape[-2:] != gts.shape[-2:]:
            raise ShapeError(f'masks {tuple(masks.shape)} must be (B, 1, H, W) like the labels '
                             f'{tuple(gts.shape)}')
        size: Tuple[int, int] = tuple(gts.shape[-2:])
        hole = masks[:, 0] > 0.5
        for variant, use_sir in VARIANTS:
            feats = model.semantic_features(inputs, masks, use_sir=use_sir, size=size)
            if feats.dim() != 4 or tuple(feats.shape[-2:]) != size or \
                    feats.shape[0] != len(samples):
                raise ShapeError(f'semantic_features(use_sir={use_sir}) returned '
                                 f'{tuple(feats.shape)}, expected ({len(samples)}, c, *{size})')
            pred = labels_from_features(feats, text)
            meters[(variant, 'all')].update(pred, gts)
            meters[(variant, 'hole')].update(pred, gts, valid=hole)
        num_images += len(samples)
    if num_images == 0:
        raise DataError('the segmentation check scored no images'
                        + (f' (no sample has mask_bin {mask_bin!r})' if mask_bin else ''))
    result: Dict[str, Any] = {
        v: {r: meters[(v, r)].compute() for r in REGIONS} for v, _ in VARIANTS}
    result.update(num_images=num_images, num_classes=num_classes, mask_bin=mask_bin)
    return result


def format_segmentation_table(result: Mapping[str, Any], title: Optional[str] = None) -> str:
    """Tab. 5 as text: rows without / with SIR; mIoU and aAcc, whole image and hole only."""
    header = ['Variant', 'mIoU', 'aAcc', 'mIoU (hole)', 'aAcc (hole)']
    rows: List[List[str]] = [header]
    for variant, label in (('without_sir', 'without SIR'), ('with_sir', 'with SIR')):
        scores = result[variant]
        rows.append([label] + [f"{scores[r][m]:.3f}" for r in REGIONS for m in ('mIoU', 'aAcc')])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ['  '.join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths))) for r in rows]
    rule = '-' * len(lines[0])
    out = [rule, lines[0], rule] + lines[1:] + [rule]
    n = f"{result.get('num_images', '?')} images, {result.get('num_classes', '?')} classes"
    if result.get('mask_bin'):
        n += f", mask bin {result['mask_bin']}"
    out.insert(0, f'{title} ({n})' if title else n)
    return '\n'.join(out)
