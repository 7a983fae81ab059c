"""Edits of the semantic field S: text-guided fill steers it inside the hole to a text embedding.

SAIR's AIR renders colour from ``[Z_app, S]``, where ``S`` is the dense SIR field (B, c, H, W) in
the semantic encoder's text-aligned (CLIP) space. Inside the hole ``S`` is what SIR *inferred*
from the context. Text guidance replaces that inference by the user's wish: for every pixel p of
the region R (the hole, or any soft region ``w(p)`` in [0, 1]),

    S'(p) = S(p) + strength * w(p) * (r(p) * t - S(p)),

where ``t`` is the unit CLIP text embedding of the named class (or prompt) and ``r(p)`` its
length, the ``scale`` option:

* ``'match_norm'`` (default): ``r(p) = |S(p)|``, the field's own per-pixel norm, so AIR sees a
  vector of the magnitude it was trained on, pointing at the text;
* ``'region_norm'``: ``r = mean_{p in R} |S(p)|`` per image, one length over the region (no
  texture left in the field's magnitude);
* ``'unit'``: ``r = 1``, the text embedding as it is (CLIP's own scale; useful when the
  encoder's features are normalised).

``strength = 1`` replaces the field in the region (with ``w = 1``), ``0 < strength < 1`` blends
the inferred field with the text, ``strength > 1`` extrapolates past it. Outside the region the
field is untouched, so known pixels keep their semantics; AIR's local ensemble blends across the
region's border. The edit runs through :meth:`SAIR.encode`'s ``field_edit`` seam before the
fusion and AIR.

This is model code (a tensor operation on the field), used by the inferencer, the web demo, the
tools and the text-fill measurement (:mod:`sair_toolbox.evaluation.text_guided_fill`). Every
place that accepts a ``scale`` validates it with :func:`check_guidance_scale` and offers
:data:`GUIDANCE_SCALES` as the choices.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from sair_toolbox.utils.errors import ConfigError, ShapeError

#: How the steered field is scaled (see the module docstring); the first is the default.
GUIDANCE_SCALES = ('match_norm', 'region_norm', 'unit')


def check_guidance_scale(scale: str) -> str:
    """``scale`` if it is one of :data:`GUIDANCE_SCALES`, else one :class:`ConfigError` line.

    Args:
        scale: the requested scaling of the steered field.

    Returns:
        ``scale`` unchanged.
    """
    if scale not in GUIDANCE_SCALES:
        raise ConfigError(f'text guidance scale must be one of {", ".join(GUIDANCE_SCALES)}, '
                          f'got {scale!r}')
    return scale


def steer_field(field: Tensor, region: Tensor, text_embedding: Tensor, strength: float = 1.0,
                scale: str = 'match_norm') -> Tensor:
    """Steer a dense semantic field towards a text embedding inside a region.

    Args:
        field: (B, c, H, W) semantic field ``S``.
        region: (B, 1, H', W') or (1, 1, H', W') weights in [0, 1] (the hole: 1 = steer); resized
            to ``H x W`` (area interpolation) when the sizes differ.
        text_embedding: (c,) or (B, c) text embedding (normalised here).
        strength: blend factor (1 = replace inside the region).
        scale: one of :data:`GUIDANCE_SCALES`.

    Returns:
        (B, c, H, W) steered field, same dtype as ``field``.
    """
    check_guidance_scale(scale)
    if field.dim() != 4:
        raise ShapeError(f'field must be (B, c, H, W), got {tuple(field.shape)}')
    b, c, h, w = field.shape
    text = text_embedding.to(device=field.device, dtype=torch.float32)
    if text.dim() == 1:
        text = text[None]
    if text.dim() != 2 or text.shape[1] != c or text.shape[0] not in (1, b):
        raise ShapeError(f'text embedding {tuple(text_embedding.shape)} does not fit a field of '
                         f'{c} channels and batch {b}: expected (c,) or (B, c)')
    if region.dim() != 4 or region.shape[1] != 1 or region.shape[0] not in (1, b):
        raise ShapeError(f'region must be (B, 1, H, W), got {tuple(region.shape)}')
    weight = region.to(device=field.device, dtype=torch.float32)
    if weight.shape[-2:] != (h, w):
        weight = F.interpolate(weight, size=(h, w), mode='area')
    src = field.float()
    direction = F.normalize(text, dim=1).view(-1, c, 1, 1)
    norm = src.norm(dim=1, keepdim=True)
    if scale == 'match_norm':
        length = norm
    elif scale == 'region_norm':
        total = weight.sum(dim=(2, 3), keepdim=True)
        length = (norm * weight).sum(dim=(2, 3), keepdim=True) / total.clamp(min=1e-6)
    else:
        length = torch.ones_like(norm)
    steered = src + float(strength) * weight * (length * direction - src)
    return steered.to(field.dtype)


class FieldSteering:
    """:func:`steer_field` with fixed arguments: a ``field_edit`` for :meth:`SAIR.encode`.

    Args:
        text_embedding: (c,) or (B, c) target embedding.
        region: (B, 1, H, W) weights in [0, 1] (the hole).
        strength: see :func:`steer_field`.
        scale: see :func:`steer_field`.
    """

    def __init__(self, text_embedding: Tensor, region: Tensor, strength: float = 1.0,
                 scale: str = 'match_norm'):
        check_guidance_scale(scale)
        self.text_embedding = text_embedding
        self.region = region
        self.strength = float(strength)
        self.scale = scale

    def __call__(self, field: Tensor) -> Tensor:
        return steer_field(field, self.region, self.text_embedding, self.strength, self.scale)


def text_embedding_for(embedder, text: str, class_names: Optional[list] = None,
                       class_embeddings: Optional[Tensor] = None) -> Tensor:
    """The embedding a user's text names: a class (prompt ensemble) or a literal prompt.

    Args:
        embedder: a :class:`~sair_toolbox.models.text_embedder.CLIPTextEmbedder`.
        text: a class name (matched case-insensitively against ``class_names``) or a prompt
            such as ``'a photo of water'``.
        class_names: the model's class names, if any.
        class_embeddings: their (L, c) embeddings (reused instead of re-encoding).

    Returns:
        (c,) unit-norm float32.
    """
    text = str(text).strip()
    if not text:
        raise ConfigError('text guidance needs a class name or a prompt, got an empty string')
    names = [str(n).lower() for n in (class_names or [])]
    if text.lower() in names:
        k = names.index(text.lower())
        if class_embeddings is not None:
            return F.normalize(class_embeddings[k].float(), dim=0)
        return embedder.embed([class_names[k]])[0]
    return embedder.encode_prompts([text])[0]
