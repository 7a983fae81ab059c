"""Class-logit fusion: the semantic field as per-pixel CLIP class scores (authors' option)."""
import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from sair_toolbox.registry import SEMANTIC_FUSIONS
from sair_toolbox.utils.errors import ConfigError, ShapeError


@SEMANTIC_FUSIONS.register_module()
class ClassLogitFusion(BaseModule):
    """Replace the semantic field by its cosine similarity to CLIP text embeddings of class names.

    ``logits[b, l] = <normalize(S[b]), t_l> * scale`` per pixel, with ``t_l`` the prompt-ensembled
    CLIP text embedding of class ``l``
    (:class:`~sair_toolbox.models.text_embedder.CLIPTextEmbedder`)
    and ``scale = 1 / temperature``. AIR then sees L class scores instead of the c-dim embedding.

    This is the option found in the authors' (not runnable) release, not the paper's default,
    which concatenates ``S`` itself (:class:`ConcatFusion`). The text embeddings are computed once
    at construction and kept as a (persistent, untrained) buffer, so a checkpoint records the
    ones it was trained with; the text model itself is not kept.

    Args:
        class_names: the L class names, or the name of a registered dataset whose
            ``METAINFO['classes']`` to use (e.g. ``'CelebAHQDataset'``).
        in_channels: channels of the semantic field (filled in by SAIR); must equal the text
            embedding size (512 for ViT-B-16).
        text_embedder: ``CLIPTextEmbedder`` arguments (``arch``, ``pretrained``, ``model_cfg``,
            ``templates``, ``cache_dir``) -- use the semantic encoder's ``arch`` / ``pretrained``
            / ``model_cfg`` so both sides share weights -- or a built ``CLIPTextEmbedder``.
        temperature: softmax temperature of the logits (CLIP's learned one is 0.01).
        learnable_temperature: learn ``log(1 / temperature)`` (initialised from ``temperature``).
        normalize: L2-normalise the field per pixel before the dot product (cosine similarity).
        init_cfg: MMEngine init config.
    """

    @staticmethod
    def _dataset_classes(name: str) -> Sequence[str]:
        from sair_toolbox.registry import DATASETS
        dataset_cls = DATASETS.get(name)
        if dataset_cls is None:
            raise ConfigError(f'ClassLogitFusion class_names={name!r} is neither a list of class '
                              'names nor a registered dataset')
        return list(getattr(dataset_cls, 'METAINFO', {}).get('classes', ()))

    def __init__(self,
                 class_names: Sequence[str],
                 in_channels: Optional[int] = None,
                 text_embedder: Union[dict, nn.Module, None] = None,
                 temperature: float = 0.01,
                 learnable_temperature: bool = False,
                 normalize: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        from ..text_embedder import CLIPTextEmbedder
        if isinstance(class_names, str):
            class_names = self._dataset_classes(class_names)
        if not class_names:
            raise ConfigError(f'ClassLogitFusion class_names must be a non-empty list, got '
                              f'{class_names!r}')
        if not temperature or temperature <= 0:
            raise ConfigError(f'ClassLogitFusion temperature must be > 0, got {temperature}')
        if text_embedder is None:
            text_embedder = dict(arch='ViT-B-16', pretrained='openai')
        if isinstance(text_embedder, dict):
            embedder = CLIPTextEmbedder(**text_embedder)
        elif isinstance(text_embedder, CLIPTextEmbedder):
            embedder = text_embedder
        else:
            raise ConfigError('ClassLogitFusion text_embedder must be a dict of CLIPTextEmbedder '
                              'arguments or a CLIPTextEmbedder, got '
                              f'{type(text_embedder).__name__}')
        emb = embedder.embed(list(class_names)).detach().float().cpu()
        del embedder  # only the embeddings are kept
        if in_channels is not None and int(in_channels) != emb.shape[1]:
            raise ConfigError(f'ClassLogitFusion: semantic field has {in_channels} channels but '
                              f'the text embeddings have {emb.shape[1]} (use the encoder\'s CLIP '
                              'model)')
        self.class_names = [str(n) for n in class_names]
        self.in_channels = int(emb.shape[1])
        self.out_channels = len(self.class_names)
        self.normalize = bool(normalize)
        self.register_buffer('text_embeddings', emb)  # (L, c), unit rows
        log_scale = torch.tensor(math.log(1.0 / float(temperature)))
        if learnable_temperature:
            self.logit_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer('logit_scale', log_scale)

    @property
    def scale(self) -> Tensor:
        """``1 / temperature``."""
        return self.logit_scale.exp()

    def forward(self, sem: Tensor) -> Tensor:
        """Per-pixel class logits.

        Args:
            sem: (B, c, H, W) semantic field, c = text embedding size.

        Returns:
            (B, L, H, W) float32 logits, ``cos(sem, t_l) / temperature`` (dot product if not
            normalize).
        """
        if sem.dim() != 4 or sem.shape[1] != self.in_channels:
            raise ShapeError(f'ClassLogitFusion expects (B, {self.in_channels}, H, W), got '
                             f'{tuple(sem.shape)}')
        # float32 also under autocast: 1 / temperature (100) would amplify bfloat16's rounding
        # of the cosine into logit errors of about 0.4 (30x the error of the rest of the model).
        with torch.autocast(sem.device.type, enabled=False):
            sem = sem.float()
            if self.normalize:
                sem = F.normalize(sem, dim=1, eps=1e-6)
            emb = self.text_embeddings.to(sem.dtype)
            return torch.einsum('bchw,lc->blhw', sem, emb) * self.scale.to(sem.dtype)

    def extra_repr(self) -> str:
        return (f'num_classes={self.out_channels}, in_channels={self.in_channels}, '
                f'normalize={self.normalize}')
