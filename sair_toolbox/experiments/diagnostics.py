"""Field diagnostics: does AIR use the semantic field S? (the demo tables' last table).

:func:`semantic_diagnostics` scores a trained SAIR with its field zeroed and with the field of
another image, and measures the field's and the appearance features' size in the hole.
"""
from typing import Callable, Dict

import torch


def semantic_diagnostics(model, dataloader, metric_cfg: Dict) -> Dict:
    """Why SAIR does (not) beat LIIF: how much AIR relies on the semantic field.

    * ``psnr_field_zeroed`` / ``psnr_field_shuffled``: the test metrics with the dense SIR field
      ``S`` replaced by zeros, or by the field of another image of the batch (via
      ``SAIR.encode(field_edit=...)``); if AIR ignored ``S`` these would equal the normal scores.
    * ``field_rms`` / ``appearance_rms``: the root-mean-square of ``S`` and of ``Z_app`` (per
      channel, averaged), inside the hole; a field much larger than the appearance features
      could swamp AIR's first layer.

    Args:
        model: a trained :class:`SAIR` with a SIR (eval mode is set here).
        dataloader: the test dataloader.
        metric_cfg: the ``InpaintingMetric`` config.

    Returns:
        dict of the above (metrics as flat ``InpaintingMetric`` dicts).
    """
    from sair_toolbox.registry import METRICS
    model.eval()
    edits: Dict[str, Callable] = {
        'field_zeroed': torch.zeros_like,
        'field_shuffled': lambda s: s.roll(1, dims=0),
    }
    metrics = {name: METRICS.build(dict(metric_cfg)) for name in edits}
    sq = dict(field=0.0, appearance=0.0)
    count = 0.0
    with torch.no_grad():
        for batch in dataloader:
            data = model.data_preprocessor(batch, False)
            img, samples = data['inputs'], data['data_samples']
            mask = torch.stack([s.mask for s in samples]).to(img)
            for name, edit in edits.items():
                out = model.inpaint(img, mask, field_edit=edit)
                metrics[name].process(batch, [
                    dict(gt_img=img[i], output_img=out[i], mask=mask[i],
                         mask_bin=s.metainfo.get('mask_bin'), img_path=s.metainfo.get('img_path'))
                    for i, s in enumerate(samples)])
            hole = mask > 0.5
            field = model.sir.field(model.sir.encode(img * (1 - mask), mask), img.shape[-2:])
            sq['field'] += float((field.pow(2) * hole).sum() / field.shape[1])
            if model.appearance_encoder is not None:
                app = model.appearance_encoder(img * (1 - mask), mask)
                sq['appearance'] += float((app.pow(2) * hole).sum() / app.shape[1])
            count += float(hole.sum())
    out = {f'metrics_{name}': m.compute_metrics(m.results) for name, m in metrics.items()}
    out['field_rms'] = (sq['field'] / max(count, 1)) ** 0.5
    out['appearance_rms'] = ((sq['appearance'] / max(count, 1)) ** 0.5
                             if model.appearance_encoder is not None else None)
    return out
