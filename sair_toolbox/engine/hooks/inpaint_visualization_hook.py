"""Write a picture of a few fixed validation samples after every validation."""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from sair_toolbox.registry import HOOKS
from sair_toolbox.utils.errors import ConfigError
from sair_toolbox.visualization.label_maps import default_palette, zero_shot_label_map
from sair_toolbox.visualization.sample_grid import (colorize_with_ignore, compose_grid,
                                                    masked_view, to_uint8_image)


@HOOKS.register_module()
class InpaintVisualizationHook(Hook):
    """After every validation, draw fixed val samples and hand the grid to the Visualizer.

    One row per sample: ``masked`` (hole in ``hole_color``) | ``output`` (the composite
    ``I * (1 - M) + pred * M``) | ``ground truth`` | ``GT classes`` (when the dataset has label
    maps) | ``classes (no SIR)`` | ``classes (SIR)`` (the paper's Fig. 3). The class maps are the
    zero-shot labels (per-pixel argmax of cosine similarity) of
    ``model.semantic_features(img, mask, use_sir=False / True)`` -- the masked image's encoder
    features bilinearly resized, and the SIR-completed field -- against the CLIP text embeddings
    of the dataset's class names (``metainfo['classes']``), embedded once with the weights of the
    model's semantic encoder (:func:`~sair_toolbox.models.zero_shot.build_text_embeddings`).
    Colours: the dataset's ``metainfo['palette']``, else
    :func:`~sair_toolbox.visualization.label_maps.default_palette`; a legend names the classes
    shown. Models without SIR (LIIF) get no class maps, models whose SIR has no head (NFS) only
    the ``no SIR`` map, and models with a non-CLIP encoder (SAM) or datasets without class names
    none (said once in the log).

    The image goes to ``runner.visualizer.add_image(name, grid, step=iteration)``, i.e. to every
    configured vis backend: ``LocalVisBackend`` writes
    ``<work_dir>/<timestamp>/vis_data/vis_image/<name>_<iter>.png``; add e.g.
    ``dict(type='TensorboardVisBackend')`` to ``visualizer.vis_backends`` for TensorBoard.

    The samples are read from ``runner.val_dataloader.dataset`` by index (validation masks are
    fixed per index, so every validation shows the same inputs) and run through the unwrapped
    model on the main process only, outside the sampler: the result is the same on 1 or N
    processes, and the other ranks do nothing. Validation runs inside :class:`RNGStateHook`'s
    isolation and the samples' pipeline draws no global randomness, so training is unaffected.

    Args:
        sample_indices: val dataset indices to draw; default the first ``num_samples``.
        num_samples: used when ``sample_indices`` is None.
        class_maps: draw the class maps where the model and dataset allow.
        name: image name for the vis backends.
        hole_color: RGB of the hole in the masked view.
        min_tile: tiles are upscaled (nearest) by an integer factor to at least this height.
    """

    priority = 'LOW'

    def __init__(self,
                 sample_indices: Optional[Sequence[int]] = None,
                 num_samples: int = 4,
                 class_maps: bool = True,
                 name: str = 'val_samples',
                 hole_color: Sequence[int] = (255, 255, 255),
                 min_tile: int = 128) -> None:
        if sample_indices is None and num_samples < 1:
            raise ConfigError(f'InpaintVisualizationHook: num_samples must be >= 1, got '
                              f'{num_samples}')
        self.sample_indices = None if sample_indices is None else [int(i) for i in sample_indices]
        self.num_samples = num_samples
        self.class_maps = class_maps
        self.name = name
        self.hole_color = tuple(hole_color)
        self.min_tile = min_tile
        self._text = None  # (L, c) class embeddings, computed on first use
        self._no_maps_reason: Optional[str] = None

    # ------------------------------------------------------------------ hook
    def after_val_epoch(self, runner, metrics=None) -> None:
        if not is_main_process():
            return
        grid = self.draw(runner)
        if grid is not None:
            runner.visualizer.add_image(self.name, grid, step=self._step(runner))

    @staticmethod
    def _step(runner) -> int:
        # As LoggerHook: reading runner.iter would build a train loop that runner.val() lacks.
        loop = runner._train_loop
        return 0 if loop is None or isinstance(loop, dict) else runner.iter

    # ------------------------------------------------------------------ drawing
    def _indices(self, dataset) -> List[int]:
        n = len(dataset)
        indices = self.sample_indices if self.sample_indices is not None else range(
            min(self.num_samples, n))
        bad = [i for i in indices if not -n <= i < n]
        if bad:
            raise ConfigError(f'InpaintVisualizationHook: sample_indices {bad} out of range for '
                              f'a val set of {n} images')
        return list(indices)

    def _text_embeddings(self, runner, model, classes, device) -> Optional[torch.Tensor]:
        """(L, c) class embeddings, or None (with the reason logged once)."""
        if self._text is not None or self._no_maps_reason is not None:
            return self._text
        from sair_toolbox.models.zero_shot import build_text_embeddings, semantic_encoder_cfg
        reason = None
        if getattr(model, 'sir', None) is None or not hasattr(model, 'semantic_features'):
            reason = 'the model has no semantic branch'
        elif not classes:
            reason = 'the val dataset has no class names (metainfo["classes"])'
        else:
            try:
                enc_cfg = semantic_encoder_cfg(runner.cfg.model)
            except ConfigError as exc:
                reason = str(exc)
        if reason is not None:
            self._no_maps_reason = reason
            runner.logger.info(f'InpaintVisualizationHook: no class maps ({reason})')
            return None
        self._text = build_text_embeddings(enc_cfg, list(classes), device)
        return self._text

    @torch.no_grad()
    def draw(self, runner) -> Optional[np.ndarray]:
        """The grid of the fixed samples as (H, W, 3) uint8 RGB (None without a val set)."""
        loader = runner.val_dataloader
        dataset = getattr(loader, 'dataset', None)
        if dataset is None or len(dataset) == 0:
            return None
        indices = self._indices(dataset)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model = getattr(model, 'inference_model', model)  # a GAN: its generator
        meta = dataset.metainfo or {}
        classes = list(meta.get('classes') or [])
        palette = np.asarray(meta.get('palette') or default_palette(max(len(classes), 1)),
                             dtype=np.uint8)
        device = next(model.parameters()).device
        text = self._text_embeddings(runner, model, classes, device) if self.class_maps else None
        with_sir = text is not None and getattr(model.sir, 'head', None) is not None

        columns = {'masked': [], 'output': [], 'ground truth': []}
        shown = set()
        was_training = model.training
        model.eval()
        try:
            for index in indices:
                data = model.data_preprocessor(pseudo_collate([dataset[index]]), False)
                sample = model(**data, mode='predict')[0]
                mask = sample.mask
                columns['masked'].append(masked_view(sample.gt_img, mask, self.hole_color))
                columns['output'].append(to_uint8_image(sample.output_img))
                columns['ground truth'].append(to_uint8_image(sample.gt_img))
                if text is None:
                    continue
                seg = sample.get('gt_sem_seg')
                if seg is not None:
                    seg = torch.as_tensor(getattr(seg, 'data', seg)).reshape(mask.shape[-2:])
                    columns.setdefault('GT classes', []).append(
                        colorize_with_ignore(seg, palette))
                    shown.update(int(v) for v in seg.unique() if 0 <= v < len(classes))
                img, masks = data['inputs'], mask[None].to(data['inputs'])
                for title, use_sir in (('classes (no SIR)', False), ('classes (SIR)', True)):
                    if use_sir and not with_sir:
                        continue
                    feats = model.semantic_features(img, masks, use_sir=use_sir)
                    labels = zero_shot_label_map(feats.float(), text)[0]
                    columns.setdefault(title, []).append(colorize_with_ignore(labels, palette))
                    shown.update(int(v) for v in labels.unique())
        finally:
            model.train(was_training)
        legend = [(classes[i], palette[i]) for i in sorted(shown)] if text is not None else None
        return compose_grid(columns, legend=legend, min_tile=self.min_tile)
