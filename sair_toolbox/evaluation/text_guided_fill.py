"""Does text-guided fill render what the text names? Measured with the encoder's own labels.

For every val image (with its fixed val mask) and every target class k, the hole's SIR field is
steered to the text embedding of k (:mod:`sair_toolbox.models.field_edits`) and AIR renders the
output. The *output image* (the composite at the input size) is then encoded again by the model's
own frozen semantic encoder (MaskCLIP), the features are bilinearly resized to the image size
and every pixel is labelled zero-shot against the class texts (as the segmentation check does).
Scores, over the hole pixels only:

* ``hit_rate``: fraction of hole pixels of the guided outputs labelled k;
* ``majority_rate``: fraction of images in which k is the label of most hole pixels;
* ``base_rate``: the same pixel fraction for the unguided outputs (what SIR inferred anyway),
  so that the effect of the guidance is the difference.

The encoder never sees the steered field, only pixels: a hit means AIR painted something the
encoder recognises as k.
"""
from typing import Any, Dict, Iterable, List, Optional, Sequence

import torch

from sair_toolbox.models.field_edits import FieldSteering, check_guidance_scale
from sair_toolbox.models.zero_shot import zero_shot_labels
from sair_toolbox.utils.errors import ConfigError, DataError


@torch.no_grad()
def evaluate_text_guided_fill(model: Any, dataloader: Iterable, class_embeddings: torch.Tensor,
                              targets: Sequence[int], strength: float = 1.0,
                              scale: str = 'match_norm', precision: str = 'fp32',
                              device: str = 'cpu',
                              class_names: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Hit rates of text-guided fill (see the module docstring).

    Args:
        model: a SAIR model with a SIR and a text-aligned semantic encoder, in eval mode.
        dataloader: yields batches its ``data_preprocessor`` accepts, with masks.
        class_embeddings: (L, c) text embeddings of the class names.
        targets: class indices to steer the holes to.
        strength, scale: the guidance options (:func:`~sair_toolbox.models.field_edits.
            steer_field`).
        precision: ``'auto'`` | ``'fp32'`` | ``'bf16'`` | ``'fp16'`` for the inpainting calls.
        device: where to run.
        class_names: optional names for the result.

    Returns:
        ``{'targets': [{'class', 'index', 'hit_rate', 'majority_rate', 'base_rate'}, ...],
        'mean_hit_rate', 'mean_base_rate', 'num_images', 'num_hole_pixels', 'strength',
        'scale'}``; rates are fractions in [0, 1].
    """
    from sair_toolbox.models.data_preprocessor import stack_masks
    from sair_toolbox.utils.precision import autocast
    if getattr(model, 'sir', None) is None:
        raise ConfigError('text-guided fill needs a model with SIR')
    check_guidance_scale(scale)
    text = class_embeddings.to(device)
    num = text.shape[0]
    bad = [k for k in targets if not 0 <= int(k) < num]
    if bad or not targets:
        raise ConfigError(f'target classes must be indices in [0, {num}), got {list(targets)}')
    hits = {int(k): 0 for k in targets}
    majority = {int(k): 0 for k in targets}
    base = {int(k): 0 for k in targets}
    num_images = num_hole = 0
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        img = data['inputs'].to(device)
        mask = stack_masks(data['data_samples']).to(img)
        hole = mask[:, 0] > 0.5
        keep = hole.flatten(1).any(1)
        if not keep.any():
            continue
        img, mask, hole = img[keep], mask[keep], hole[keep]
        with autocast(precision, device):
            plain = zero_shot_labels(model.sir.encoder, model.inpaint(img, mask), text)
            for k in hits:
                edit = FieldSteering(text[k], mask, strength=strength, scale=scale)
                labels = zero_shot_labels(model.sir.encoder,
                                          model.inpaint(img, mask, field_edit=edit), text)
                on = (labels == k) & hole
                hits[k] += int(on.sum())
                majority[k] += int((on.flatten(1).sum(1) * 2 > hole.flatten(1).sum(1)).sum())
                base[k] += int(((plain == k) & hole).sum())
        num_images += img.shape[0]
        num_hole += int(hole.sum())
    if num_images == 0:
        raise DataError('text-guided fill: no image with a hole in the data')
    names = list(class_names) if class_names is not None else None
    rows: List[Dict[str, Any]] = [
        dict(index=k, **({'class': names[k]} if names else {}), hit_rate=hits[k] / num_hole,
             majority_rate=majority[k] / num_images, base_rate=base[k] / num_hole)
        for k in hits]
    return dict(targets=rows, mean_hit_rate=sum(r['hit_rate'] for r in rows) / len(rows),
                mean_base_rate=sum(r['base_rate'] for r in rows) / len(rows),
                num_images=num_images, num_hole_pixels=num_hole, strength=float(strength),
                scale=scale)


def format_text_fill_table(result: Dict[str, Any]) -> str:
    """The result as a markdown table, one row per target class."""
    lines = [f"Text-guided fill ({result['num_images']} images, "
             f"{result['num_hole_pixels']} hole pixels; scale={result['scale']}, "
             f"strength={result['strength']:g})", '',
             '| target class | hole pixels labelled as target | images with a target majority '
             '| without guidance |', '|---|---|---|---|']
    for row in result['targets']:
        lines.append(f"| {row.get('class', row['index'])} | {row['hit_rate']:.3f} | "
                     f"{row['majority_rate']:.3f} | {row['base_rate']:.3f} |")
    lines.append(f"| mean | {result['mean_hit_rate']:.3f} | | {result['mean_base_rate']:.3f} |")
    return '\n'.join(lines)
