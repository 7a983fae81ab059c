"""Pretraining of the demo world's text-aligned CLIP (the demo's stand-in for OpenAI's weights).

The demo scenes (:mod:`sair_toolbox.datasets.demo_scenes`) have per-pixel labels, so a small
open_clip CLIP can be taught *dense* image-text alignment directly: for every pixel, MaskCLIP's
dense feature (computed by the project's own :meth:`MaskCLIPEncoder.encode`) must be closest, in
cosine similarity, to the text embedding of the pixel's class name (computed by
:meth:`CLIPTextEmbedder.class_embeddings`: the real prompt templates, prompt-ensembled). The
loss is the per-pixel cross-entropy over the ``L`` class prompts of
``exp(logit_scale) * cos(feature, text)``, with CLIP's own learnable ``logit_scale`` as the
temperature. Both towers are trained (the image tower through MaskCLIP's
value path, the text tower through the prompts), so the text side is part of what aligns.

Only unmasked images are seen, as CLIP sees photos. The scenes come from their own seed stream
(:data:`CLIP_SEED_STREAM`), never the inpainter's train/val images.

Everything is seeded and runs with ``torch.use_deterministic_algorithms(True)`` and a fixed
number of threads, so the same recipe gives the same weights; and it leaves the caller's global
RNGs and thread settings as it found them (:func:`~sair_toolbox.utils.global_state.
preserved_global_state`), so a model built while the demo CLIP pretrains is the model built from
the cache.

The recipe (:class:`DemoCLIPRecipe`) and this pretraining live in ``models/weights_providers``,
next to the registered provider :class:`~.demo_clip_weights.DemoCLIPWeights` whose
implementation they are: the provider builds the weights while a model is being built, and the
model layer may not import the experiments above it.
"""
import contextlib
import dataclasses
import math
import os
import os.path as osp
import time
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from sair_toolbox.datasets.demo_scenes import DEMO_CLASSES, DEMO_SPLITS, render_scene
from sair_toolbox.utils.errors import ConfigError
from sair_toolbox.utils.global_state import preserved_global_state

from .cache_files import recipe_from_options

#: Seed-stream code of the CLIP pretraining scenes (the demo data uses 0 = train, 1 = val).
CLIP_SEED_STREAM = 2


@dataclasses.dataclass(frozen=True)
class DemoCLIPRecipe:
    """How the demo CLIP is pretrained: the generation parameters of a ``DemoCLIPWeights`` cache.

    Attributes:
        image_size: scene side in pixels (the CLIP's input size).
        num_scenes: scenes rendered from :data:`CLIP_SEED_STREAM` (cycled through in a seeded
            random order).
        steps: optimisation steps.
        batch_size: scenes per step.
        lr: peak AdamW learning rate (linear warm-up, cosine decay).
        weight_decay: AdamW weight decay of the matrices (biases and norms: none).
        warmup: warm-up steps.
        seed: seed of the scenes, the initialisation and the batch order.
        keep_last_residual: the MaskCLIP variant aligned (must match the encoder that uses it).
        templates: prompt templates (None: :data:`~sair_toolbox.models.text_embedder.
            DEFAULT_TEMPLATES`).
        num_threads: torch threads during pretraining (fixed, for reproducible bits).
        val_seed, num_val: the demo data's val split (``seed`` and ``num_val`` of
            ``DemoDataset``) on which the zero-shot mIoU is reported; ``num_val=0`` skips it.
    """
    image_size: int = 64
    num_scenes: int = 2000
    steps: int = 300
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup: int = 30
    seed: int = 0
    keep_last_residual: bool = True
    templates: Optional[Tuple[str, ...]] = None
    num_threads: int = 2
    val_seed: int = 0
    num_val: int = 40

    def __post_init__(self) -> None:
        # Config values arrive as ints for floats, lists for tuples...: one canonical form, so
        # that equal recipes compare (and hash, and serialise) equal.
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == 'templates':
                value = tuple(str(t) for t in value) if value is not None else None
            else:
                value = type(field.default)(value)
            object.__setattr__(self, field.name, value)

    @classmethod
    def from_options(cls, options: Dict[str, Any]) -> 'DemoCLIPRecipe':
        """The recipe of a provider config's options; unknown names are one ConfigError line."""
        return recipe_from_options(cls, options, 'DemoCLIPWeights')

    def params(self) -> Dict[str, Any]:
        """The recipe as stored in ``meta.json``'s ``params`` (templates: a list or None)."""
        params = dataclasses.asdict(self)
        params['templates'] = list(self.templates) if self.templates is not None else None
        return params


def render_scenes(num: int, image_size: int, seed: int,
                  stream: int = CLIP_SEED_STREAM) -> Tuple[torch.Tensor, torch.Tensor]:
    """Scenes ``i < num`` of a seed stream (scene ``i`` depends on ``(seed, stream, i)`` only).

    Returns:
        (N, 3, S, S) uint8 images and (N, S, S) int64 labels indexing ``DEMO_CLASSES``.
    """
    imgs, labs = [], []
    for i in range(num):
        rng = np.random.default_rng(np.random.SeedSequence([seed, stream, i]))
        img, lab = render_scene(image_size, rng)
        imgs.append(img)
        labs.append(lab)
    imgs = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()
    return imgs, torch.from_numpy(np.stack(labs)).long()


@contextlib.contextmanager
def deterministic(num_threads: int):
    """Deterministic kernels and a fixed thread count inside; previous settings restored."""
    threads = torch.get_num_threads()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(num_threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
        torch.set_num_threads(threads)


def dense_logits(encoder, text: torch.Tensor, img: torch.Tensor, scale: torch.Tensor
                 ) -> torch.Tensor:
    """Per-pixel class logits: ``scale * cos(encoder.encode(img), text)``, bilinearly upsampled.

    The cosine is taken on the patch grid and the (B, L, h, w) logits are resized to the image:
    L (11) channels instead of c per pixel keeps the step cheap. The segmentation check resizes
    the features before the cosine; the two agree except across patch borders.

    Args:
        encoder: a :class:`MaskCLIPEncoder`.
        text: (L, c) unit class embeddings.
        img: (B, 3, H, W) in [0, 1], sides multiples of the patch size.
        scale: scalar temperature (``exp(logit_scale)``).

    Returns:
        (B, L, H, W) logits.
    """
    feat = F.normalize(encoder.encode(img), dim=1)
    logits = scale * torch.einsum('bchw,lc->blhw', feat, text)
    return F.interpolate(logits, size=img.shape[-2:], mode='bilinear', align_corners=False)


def _save_init(model_cfg: dict, path: str, seed: int) -> None:
    from sair_toolbox.models.clip_loading import build_clip_from_cfg
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_clip_from_cfg(model_cfg)
    torch.save(model.state_dict(), path)


def warmup_cosine_lr(step: int, steps: int, lr: float, warmup: int) -> float:
    """Learning rate at ``step`` of ``steps``: linear warm-up over ``warmup`` steps to ``lr``,
    then cosine decay to 0 (the demo CLIP's and the demo SAM's schedule)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(steps - warmup, 1)
    return lr * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def zero_shot_miou(encoder, text: torch.Tensor, images: torch.Tensor, labels: torch.Tensor,
                   batch_size: int = 32) -> Dict:
    """Zero-shot segmentation of unmasked images, scored like the segmentation check.

    Every pixel gets the class of the most similar text embedding
    (:func:`~sair_toolbox.models.zero_shot.zero_shot_labels`: the encoder's features, bilinearly
    resized, as ``SAIR.semantic_features(use_sir=False)`` on an unmasked image); the confusion
    matrix is scored by :func:`~sair_toolbox.models.zero_shot.scores_from_confusion`, the
    arithmetic of :class:`~sair_toolbox.evaluation.segmentation.SegmentationMIoU`.

    Args:
        encoder: a semantic encoder (any input size; called as ``encoder(img)``).
        text: (L, c) class embeddings.
        images: (N, 3, H, W) uint8.
        labels: (N, H, W) labels in [0, L).

    Returns:
        ``SegmentationMIoU.compute``'s dict (``mIoU``, ``aAcc``, per-class ``IoU``...,
        ``classes``).
    """
    from sair_toolbox.models.zero_shot import (confusion_counts, scores_from_confusion,
                                               zero_shot_labels)
    num = text.shape[0]
    confusion = torch.zeros(num, num, dtype=torch.int64)
    for start in range(0, images.shape[0], batch_size):
        img = images[start:start + batch_size].float() / 255
        pred = zero_shot_labels(encoder, img, text)
        confusion += confusion_counts(pred.flatten(), labels[start:start + batch_size].flatten(),
                                      num)
    return dict(scores_from_confusion(confusion), classes=list(DEMO_CLASSES)[:num])


def pretrain_demo_clip(model_cfg: dict,
                       out_path: str,
                       recipe: DemoCLIPRecipe = DemoCLIPRecipe(),
                       log: Optional[Callable[[str], None]] = None) -> Dict:
    """Pretrain a CLIP of ``model_cfg`` on demo scenes and save its open_clip state dict.

    The image side is a :class:`MaskCLIPEncoder` and the text side a :class:`CLIPTextEmbedder`,
    both loaded from a seeded random initialisation saved next to ``out_path`` -- i.e. through the
    same loading path and forward math as at use time; their parameters are unfrozen here and
    trained jointly (all but the token-embedding table) with AdamW (linear warm-up, cosine
    decay) on the dense cross-entropy of :func:`dense_logits` with ``exp(clip.logit_scale)``
    (clamped at 100, as CLIP) as temperature.
    Random horizontal flips. The caller's global RNGs and thread settings are left as found.

    Args:
        model_cfg: open_clip ``CLIP`` arguments (``embed_dim``, ``vision_cfg``, ``text_cfg``); a
            ViT whose native grid is ``recipe.image_size / patch_size``.
        out_path: where to write the state dict (``.safetensors`` or a ``torch.save`` file).
        recipe: the schedule, data and seeds (:class:`DemoCLIPRecipe`).
        log: callable for progress lines (default: print to the MMEngine logger).

    Returns:
        dict with ``val_mIoU`` (zero-shot, unmasked val split; None when skipped), ``val_aAcc``,
        ``loss`` (mean of the last 50 steps), ``seconds``, ``logit_scale``.
    """
    with preserved_global_state():
        return _pretrain(model_cfg, out_path, recipe, log)


def _pretrain(model_cfg: dict, out_path: str, recipe: DemoCLIPRecipe,
              log: Optional[Callable[[str], None]]) -> Dict:
    from sair_toolbox.models.clip_loading import build_clip_from_cfg
    from sair_toolbox.models.semantic_encoders.maskclip import MaskCLIPEncoder
    from sair_toolbox.models.text_embedder import DEFAULT_TEMPLATES, CLIPTextEmbedder
    if log is None:
        from mmengine.logging import print_log
        def log(msg):  # noqa: E306
            print_log(msg, logger='current')
    image_size, num_scenes, steps, batch_size = (recipe.image_size, recipe.num_scenes,
                                                  recipe.steps, recipe.batch_size)
    lr, weight_decay, warmup, seed = recipe.lr, recipe.weight_decay, recipe.warmup, recipe.seed
    keep_last_residual = recipe.keep_last_residual
    templates = tuple(recipe.templates or DEFAULT_TEMPLATES)
    start_time = time.time()
    with deterministic(recipe.num_threads):
        images, labels = render_scenes(num_scenes, image_size, seed)
        init_path = osp.join(osp.dirname(osp.abspath(out_path)), 'init.pt')
        _save_init(model_cfg, init_path, seed)
        encoder = MaskCLIPEncoder(pretrained=init_path, model_cfg=model_cfg,
                                  keep_last_residual=keep_last_residual)
        embedder = CLIPTextEmbedder(pretrained=init_path, model_cfg=model_cfg,
                                    templates=templates)
        os.remove(init_path)
        size = encoder.patch_size * np.array(encoder.native_grid)
        if tuple(size) != (image_size, image_size):
            raise ConfigError(f'demo CLIP: model_cfg sees {tuple(size)} images (image_size / '
                              f'patch_size grid) but the scenes are {image_size}x{image_size}')
        towers = [encoder.visual, embedder.clip]
        for tower in towers:
            tower.requires_grad_(True)
        # The token table (vocab x width) keeps its seeded init: the prompts use ~40 of its
        # 49408 rows, and a dense AdamW update of the whole table would dominate each step.
        embedder.clip.token_embedding.requires_grad_(False)
        params = [p for tower in towers for p in tower.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        optim = torch.optim.AdamW([dict(params=decay, weight_decay=weight_decay),
                                   dict(params=no_decay, weight_decay=0.0)], lr=lr)
        gen = torch.Generator().manual_seed(seed)
        order = torch.empty(0, dtype=torch.long)
        losses = []
        for step in range(steps):
            if order.numel() < batch_size:
                order = torch.cat([order, torch.randperm(num_scenes, generator=gen)])
            idx, order = order[:batch_size], order[batch_size:]
            img = images[idx].float() / 255
            lab = labels[idx]
            flip = torch.rand(batch_size, generator=gen) < 0.5
            img = torch.where(flip[:, None, None, None], img.flip(-1), img)
            lab = torch.where(flip[:, None, None], lab.flip(-1), lab)
            for group in optim.param_groups:
                group['lr'] = warmup_cosine_lr(step, steps, lr, warmup)
            text = embedder.class_embeddings(DEMO_CLASSES)
            scale = embedder.clip.logit_scale.exp().clamp(max=100)
            loss = F.cross_entropy(dense_logits(encoder, text, img, scale), lab)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            losses.append(float(loss.detach()))
            if (step + 1) % 100 == 0 or step + 1 == steps:
                log(f'demo CLIP pretraining: step {step + 1}/{steps}, loss '
                    f'{np.mean(losses[-50:]):.4f}, {time.time() - start_time:.0f} s')

        state = {f'visual.{k}': v for k, v in encoder.visual.state_dict().items()}
        state.update(embedder.clip.state_dict())  # everything but the image tower (an Identity)
        clip = build_clip_from_cfg(model_cfg)
        clip.load_state_dict(state, strict=True)  # every key present, nothing extra
        state = {k: v.detach().contiguous() for k, v in clip.state_dict().items()}
        if out_path.endswith('.safetensors'):
            from safetensors.torch import save_file
            save_file(state, out_path)
        else:
            torch.save(state, out_path)

        result = dict(loss=float(np.mean(losses[-50:])), logit_scale=float(scale.detach()),
                      val_mIoU=None, val_aAcc=None)
        if recipe.num_val:
            # The demo data's val images, regenerated bit-exactly from their seeds.
            val_imgs, val_labs = render_scenes(recipe.num_val, image_size, recipe.val_seed,
                                               DEMO_SPLITS['val'])
            text = CLIPTextEmbedder(pretrained=out_path, model_cfg=model_cfg,
                                    templates=templates).embed(DEMO_CLASSES)
            scores = zero_shot_miou(MaskCLIPEncoder(pretrained=out_path, model_cfg=model_cfg,
                                                    keep_last_residual=keep_last_residual),
                                    text, val_imgs, val_labs)
            result.update(val_mIoU=scores['mIoU'], val_aAcc=scores['aAcc'])
    result['seconds'] = time.time() - start_time
    return result
