"""Pretraining of the demo world's SAM image encoder (the demo's stand-in for SAM's weights).

SAM's image encoder is trained class-agnostically: its masks say which pixels form one region,
never what the region is. The demo scenes (:mod:`sair_toolbox.datasets.demo_scenes`) carry
per-pixel class labels; their connected components (4-connectivity, per class) are the demo's
"masks": every roof, window, cloud and tree crown is its own region, two windows are two regions.
The class index itself is never used.

A segment-anything ``ImageEncoderViT`` at demo size (built by :class:`SAMEncoder`, the module the
inpainter later loads) and a tiny decoder -- two transposed convolutions as in SAM's mask decoder,
upsampling the feature grid back to pixels, then a 1x1 convolution -- are trained on two
class-agnostic objectives:

* **region boundaries**: a per-pixel logit for "a 4-neighbour belongs to another region",
  class-balanced binary cross-entropy;
* **same-region affinity**: per-pixel embeddings (unit vectors) of ``pixels_per_image`` random
  pixels of an image; a supervised contrastive loss (temperature ``temperature``) pulls pixels of
  the same region together and pushes the other regions of the image apart.

The decoder is discarded; the checkpoint holds the image encoder only (``image_encoder.*`` keys,
like an official SAM file), loaded by :class:`SAMEncoder`'s normal checkpoint path. The reported
quality is class-agnostic too: the ROC AUC with which the cosine similarity of two pixels'
encoder features (the features as the inpainter sees them) tells "same region" from "other
region", on the demo val images, before and after pretraining.

Only unmasked images are seen, from their own seed stream (:data:`SAM_SEED_STREAM`), never the
inpainter's train/val images nor the demo CLIP's. Everything is seeded and runs with
``torch.use_deterministic_algorithms(True)`` and a fixed thread count; the global RNGs (torch,
NumPy, ``random``) and thread settings are restored afterwards
(:func:`~sair_toolbox.utils.global_state.preserved_global_state`), so a first run that pretrains
and a later run that reads the cache build the same inpainter.
"""
import dataclasses
import math
import os
import os.path as osp
import time
from functools import partial
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sair_toolbox.datasets.demo_scenes import DEMO_SPLITS
from sair_toolbox.utils.errors import ConfigError
from sair_toolbox.utils.global_state import preserved_global_state

from .cache_files import recipe_from_options
from .demo_clip_pretraining import deterministic, render_scenes, warmup_cosine_lr

#: Seed-stream code of the SAM pretraining scenes (0 = train, 1 = val, 2 = the demo CLIP's).
SAM_SEED_STREAM = 3
#: Architecture keys of a demo SAM ``model_cfg`` besides ``img_size`` (``SAMEncoder``'s).
ARCH_KEYS = ('embed_dim', 'depth', 'num_heads', 'global_attn_indexes', 'window_size',
             'mlp_ratio', 'out_chans', 'patch_size')


@dataclasses.dataclass(frozen=True)
class DemoSAMRecipe:
    """How the demo SAM image encoder is pretrained: the generation parameters of a
    ``DemoSAMWeights`` cache.

    Attributes:
        num_scenes: scenes rendered from :data:`SAM_SEED_STREAM` (cycled in a seeded order).
        steps: optimisation steps.
        batch_size: scenes per step.
        lr: peak AdamW learning rate (linear warm-up, cosine decay).
        weight_decay: AdamW weight decay of the matrices (biases, norms, tables: none).
        warmup: warm-up steps.
        seed: seed of the scenes, the initialisation, the batch order, flips and pixel samples.
        pixels_per_image: pixels per image in the affinity loss.
        temperature: the affinity loss's temperature.
        boundary_weight: weight of the boundary loss.
        decoder_dim: embedding size of the discarded decoder.
        num_threads: torch threads during pretraining (fixed, for reproducible bits).
        val_seed, num_val: the demo data's val split (``seed`` and ``num_val`` of
            ``DemoDataset``) on which :func:`pair_auc` is reported, for the initialisation and
            the result; ``num_val=0`` skips it.
    """
    num_scenes: int = 1000
    steps: int = 300
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup: int = 30
    seed: int = 0
    pixels_per_image: int = 64
    temperature: float = 0.1
    boundary_weight: float = 1.0
    decoder_dim: int = 16
    num_threads: int = 2
    val_seed: int = 0
    num_val: int = 40

    def __post_init__(self) -> None:
        # Config values may arrive as ints for floats: one canonical form, so that equal recipes
        # compare (and serialise) equal.
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, type(field.default)(getattr(self, field.name)))

    @classmethod
    def from_options(cls, options: Dict[str, Any]) -> 'DemoSAMRecipe':
        """The recipe of a provider config's options; unknown names are one ConfigError line."""
        return recipe_from_options(cls, options, 'DemoSAMWeights')

    def params(self) -> Dict[str, Any]:
        """The recipe as stored in ``meta.json``'s ``params``."""
        return dataclasses.asdict(self)


def region_maps(labels: Tensor) -> Tensor:
    """Class-agnostic region ids: the connected components (4-connectivity) of each class.

    Args:
        labels: (N, H, W) integer class labels.

    Returns:
        (N, H, W) int64 region ids, ``0 .. R_n - 1`` per image (no meaning across images).
    """
    from scipy import ndimage
    out = np.zeros(labels.shape, np.int64)
    for n, lab in enumerate(labels.numpy()):
        count = 0
        for cls in np.unique(lab):
            comp, num = ndimage.label(lab == cls)
            out[n][comp > 0] = comp[comp > 0] - 1 + count
            count += num
    return torch.from_numpy(out)


def boundary_maps(regions: Tensor) -> Tensor:
    """Pixels with a 4-neighbour in another region (both sides of every edge).

    Args:
        regions: (N, H, W) region ids.

    Returns:
        (N, H, W) bool.
    """
    edge = torch.zeros(regions.shape, dtype=torch.bool)
    dx = regions[:, :, 1:] != regions[:, :, :-1]
    dy = regions[:, 1:, :] != regions[:, :-1, :]
    edge[:, :, 1:] |= dx
    edge[:, :, :-1] |= dx
    edge[:, 1:, :] |= dy
    edge[:, :-1, :] |= dy
    return edge


class RegionDecoder(nn.Module):
    """The discarded pretraining head: (B, C, h, w) features -> per-pixel embeddings + boundary.

    Two stride-2 transposed convolutions (x4, as SAM's mask decoder upscales) with GELU, a 1x1
    convolution to ``embed_dim + 1`` channels, bilinearly resized to the image when the patch is
    not 4.

    Args:
        in_channels: the encoder's ``out_chans``.
        embed_dim: per-pixel embedding size of the affinity loss.
    """

    def __init__(self, in_channels: int, embed_dim: int = 16):
        super().__init__()
        mid = max(in_channels // 2, 8)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(in_channels, mid, 2, 2), nn.GELU(),
            nn.ConvTranspose2d(mid, mid // 2, 2, 2), nn.GELU(),
            nn.Conv2d(mid // 2, embed_dim + 1, 1))

    def forward(self, feat: Tensor, size) -> Tensor:
        """(B, embed_dim + 1, H, W): embedding channels, then the boundary logit."""
        out = self.net(feat)
        if tuple(out.shape[-2:]) != tuple(size):
            out = F.interpolate(out, size=tuple(size), mode='bilinear', align_corners=False)
        return out


def affinity_loss(emb: Tensor, regions: Tensor, idx: Tensor, temperature: float) -> Tensor:
    """Supervised contrastive loss over sampled pixels of each image (same region = positive).

    Args:
        emb: (B, D, H, W) per-pixel embeddings (normalised here).
        regions: (B, H, W) region ids.
        idx: (B, P) flat pixel indices sampled per image.
        temperature: softmax temperature of the cosine similarities.

    Returns:
        scalar: mean over anchors with at least one positive of
        ``-mean_pos log softmax_{j != i}(cos(e_i, e_j) / temperature)``.
    """
    b, d = emb.shape[:2]
    e = emb.flatten(2).gather(2, idx[:, None, :].expand(b, d, idx.shape[1]))  # (B, D, P)
    e = F.normalize(e, dim=1)
    r = regions.flatten(1).gather(1, idx)  # (B, P)
    sim = torch.einsum('bdp,bdq->bpq', e, e) / temperature
    eye = torch.eye(idx.shape[1], dtype=torch.bool)
    sim = sim.masked_fill(eye, float('-inf'))
    log_prob = sim - torch.logsumexp(sim, dim=2, keepdim=True)
    pos = (r[:, :, None] == r[:, None, :]) & ~eye
    num_pos = pos.sum(2)
    anchor = num_pos > 0
    per_anchor = -(log_prob.masked_fill(~pos, 0.0).sum(2)) / num_pos.clamp(min=1)
    return per_anchor[anchor].mean()


def boundary_loss(logit: Tensor, target: Tensor) -> Tensor:
    """Class-balanced BCE: boundary and interior pixels weigh half each.

    Args:
        logit: (B, H, W) boundary logits.
        target: (B, H, W) bool.
    """
    t = target.float()
    pos = t.mean().clamp(1e-3, 1 - 1e-3)
    weight = t * (0.5 / pos) + (1 - t) * (0.5 / (1 - pos))
    return F.binary_cross_entropy_with_logits(logit, t, weight=weight)


@torch.no_grad()
def pair_auc(encoder, images: Tensor, regions: Tensor, pairs_per_image: int = 512,
             seed: int = 0, batch_size: int = 32) -> float:
    """ROC AUC of "same region" from the cosine similarity of two pixels' encoder features.

    Features as the inpainter sees them: ``encoder(img)`` bilinearly resized to the image.
    0.5 is chance, 1.0 perfect grouping.

    Args:
        encoder: a semantic encoder (``encoder(img)`` -> (B, C, h, w)).
        images: (N, 3, H, W) uint8.
        regions: (N, H, W) region ids.
        pairs_per_image: random pixel pairs per image (seeded).
        seed: seed of the pair sampling.
        batch_size: images per forward pass.
    """
    from scipy.stats import rankdata
    gen = torch.Generator().manual_seed(seed)
    scores, same = [], []
    pixels = images.shape[-2] * images.shape[-1]
    for start in range(0, images.shape[0], batch_size):
        img = images[start:start + batch_size].float() / 255
        feat = F.interpolate(encoder(img), size=img.shape[-2:], mode='bilinear',
                             align_corners=False)
        feat = F.normalize(feat.flatten(2), dim=1)  # (B, C, HW)
        reg = regions[start:start + batch_size].flatten(1)
        i = torch.randint(0, pixels, (img.shape[0], pairs_per_image), generator=gen)
        j = torch.randint(0, pixels, (img.shape[0], pairs_per_image), generator=gen)
        c = feat.shape[1]
        fi = feat.gather(2, i[:, None].expand(-1, c, -1))
        fj = feat.gather(2, j[:, None].expand(-1, c, -1))
        scores.append((fi * fj).sum(1).flatten())
        same.append((reg.gather(1, i) == reg.gather(1, j)).flatten())
    s = torch.cat(scores).double().numpy()
    y = torch.cat(same).numpy()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return math.nan
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def split_model_cfg(model_cfg: dict):
    """``(img_size, SAMEncoder model_cfg)`` from a demo SAM ``model_cfg`` (``ARCH_KEYS`` plus
    ``img_size``, as :class:`SAMEncoder` hands it to its weights provider)."""
    cfg = dict(model_cfg)
    if 'img_size' not in cfg:
        raise ConfigError('demo SAM pretraining: model_cfg needs img_size (SAMEncoder passes it)')
    img_size = int(cfg.pop('img_size'))
    unknown = sorted(set(cfg) - set(ARCH_KEYS))
    if unknown:
        raise ConfigError(f'demo SAM pretraining: unknown model_cfg keys {unknown}; allowed: '
                          f'{list(ARCH_KEYS)} and img_size')
    return img_size, cfg


def _init_state(img_size: int, arch_cfg: dict, seed: int) -> Dict[str, Tensor]:
    """A seeded random ``ImageEncoderViT`` state of the shape ``SAMEncoder`` builds."""
    from segment_anything.modeling import ImageEncoderViT
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        enc = ImageEncoderViT(
            depth=int(arch_cfg['depth']), embed_dim=int(arch_cfg['embed_dim']),
            img_size=img_size, mlp_ratio=float(arch_cfg.get('mlp_ratio', 4.0)),
            norm_layer=partial(nn.LayerNorm, eps=1e-6), num_heads=int(arch_cfg['num_heads']),
            patch_size=int(arch_cfg.get('patch_size', 16)), qkv_bias=True, use_rel_pos=True,
            global_attn_indexes=tuple(arch_cfg['global_attn_indexes']),
            window_size=int(arch_cfg.get('window_size', 14)),
            out_chans=int(arch_cfg.get('out_chans', 256)))
    return enc.state_dict()


def _sam_encoder(checkpoint: str, img_size: int, arch_cfg: dict):
    from sair_toolbox.models.semantic_encoders.sam import SAMEncoder
    return SAMEncoder(arch='vit_b', checkpoint=checkpoint, img_size=img_size, model_cfg=arch_cfg)


def pretrain_demo_sam(model_cfg: dict,
                      out_path: str,
                      recipe: DemoSAMRecipe = DemoSAMRecipe(),
                      log: Optional[Callable[[str], None]] = None) -> Dict:
    """Pretrain a demo-size SAM image encoder on demo scenes and save it as a SAM checkpoint.

    The encoder is a :class:`SAMEncoder` built from a seeded random initialisation saved next to
    ``out_path`` (the loading path and module of use time), unfrozen and trained with the
    :class:`RegionDecoder` by AdamW (linear warm-up, cosine decay) on
    ``affinity_loss + boundary_weight * boundary_loss``, through SAM's own
    ``ImageEncoderViT.forward`` on SAM-normalised input (what ``SAMEncoder.encode`` computes at
    the native size). Random horizontal flips. The caller's global RNGs and thread settings are
    left as found (:func:`~sair_toolbox.utils.global_state.preserved_global_state`).

    Args:
        model_cfg: ``img_size`` plus :class:`SAMEncoder` ``model_cfg`` keys (:data:`ARCH_KEYS`);
            the scenes are ``img_size`` square.
        out_path: where to write the checkpoint (``torch.save`` of ``{'image_encoder.<k>': v}``).
        recipe: the data, schedule, objective and seeds (:class:`DemoSAMRecipe`).
        log: callable for progress lines (default: the MMEngine logger).

    Returns:
        dict with ``loss``, ``affinity_loss``, ``boundary_loss`` (means of the last 50 steps),
        ``val_pair_auc``, ``init_pair_auc`` (None when skipped) and ``seconds``.
    """
    with preserved_global_state():
        return _pretrain(model_cfg, out_path, recipe, log)


def _pretrain(model_cfg: dict, out_path: str, recipe: DemoSAMRecipe,
              log: Optional[Callable[[str], None]]) -> Dict:
    if log is None:
        from mmengine.logging import print_log

        def log(msg):
            print_log(msg, logger='current')
    img_size, arch_cfg = split_model_cfg(model_cfg)
    num_scenes, steps, batch_size, seed = (recipe.num_scenes, recipe.steps, recipe.batch_size,
                                           recipe.seed)
    lr, warmup, pixels_per_image = recipe.lr, recipe.warmup, recipe.pixels_per_image
    start_time = time.time()
    with deterministic(recipe.num_threads):
        images, labels = render_scenes(num_scenes, img_size, seed, SAM_SEED_STREAM)
        regions = region_maps(labels)
        del labels  # the class names never enter the objective
        edges = boundary_maps(regions)
        init_path = osp.join(osp.dirname(osp.abspath(out_path)), 'init.pth')
        torch.save(_init_state(img_size, arch_cfg, seed), init_path)
        encoder = _sam_encoder(init_path, img_size, arch_cfg)
        os.remove(init_path)
        val = None
        result = dict(val_pair_auc=None, init_pair_auc=None)
        if recipe.num_val:
            val_imgs, val_labs = render_scenes(recipe.num_val, img_size, recipe.val_seed,
                                               DEMO_SPLITS['val'])
            val = (val_imgs, region_maps(val_labs))
            result['init_pair_auc'] = pair_auc(encoder, *val, seed=seed)
        vit = encoder.image_encoder
        vit.requires_grad_(True)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            decoder = RegionDecoder(encoder.out_channels, recipe.decoder_dim)
        params = list(vit.parameters()) + list(decoder.parameters())
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        optim = torch.optim.AdamW([dict(params=decay, weight_decay=recipe.weight_decay),
                                   dict(params=no_decay, weight_decay=0.0)], lr=lr)
        gen = torch.Generator().manual_seed(seed)
        order = torch.empty(0, dtype=torch.long)
        pixels = img_size * img_size
        history = dict(loss=[], affinity_loss=[], boundary_loss=[])
        for step in range(steps):
            if order.numel() < batch_size:
                order = torch.cat([order, torch.randperm(num_scenes, generator=gen)])
            idx, order = order[:batch_size], order[batch_size:]
            img = images[idx].float() / 255
            reg, edge = regions[idx], edges[idx]
            flip = torch.rand(batch_size, generator=gen) < 0.5
            img = torch.where(flip[:, None, None, None], img.flip(-1), img)
            reg = torch.where(flip[:, None, None], reg.flip(-1), reg)
            edge = torch.where(flip[:, None, None], edge.flip(-1), edge)
            sample = torch.randint(0, pixels, (batch_size, pixels_per_image), generator=gen)
            for group in optim.param_groups:
                group['lr'] = warmup_cosine_lr(step, steps, lr, warmup)
            feat = vit((img - encoder.pixel_mean) / encoder.pixel_std)
            out = decoder(feat, img.shape[-2:])
            aff = affinity_loss(out[:, :-1], reg, sample, recipe.temperature)
            bnd = boundary_loss(out[:, -1], edge)
            loss = aff + recipe.boundary_weight * bnd
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            for key, value in (('loss', loss), ('affinity_loss', aff), ('boundary_loss', bnd)):
                history[key].append(float(value.detach()))
            if (step + 1) % 100 == 0 or step + 1 == steps:
                log(f'demo SAM pretraining: step {step + 1}/{steps}, loss '
                    f'{np.mean(history["loss"][-50:]):.4f}, {time.time() - start_time:.0f} s')

        state = {f'image_encoder.{k}': v.detach().contiguous()
                 for k, v in vit.state_dict().items()}
        torch.save(state, out_path)
        result.update({k: float(np.mean(v[-50:])) for k, v in history.items()})
        if val is not None:
            result['val_pair_auc'] = pair_auc(_sam_encoder(out_path, img_size, arch_cfg), *val,
                                              seed=seed)
    result['seconds'] = time.time() - start_time
    return result
