"""CLIP text embeddings of class names (paper Sec. 5.3: the segmentation check, Tab. 5)."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sair_toolbox.utils.errors import ConfigError

#: Prompt templates averaged per class. A 10-prompt subset of the 85 that MaskCLIP's
#: ``tools/maskclip_utils/prompt_engineering.py`` uses (CLIP's ImageNet templates plus MaskCLIP's
#: scene templates), chosen for dense labelling of photographs.
DEFAULT_TEMPLATES = (
    'a photo of a {}.',
    'a photo of the {}.',
    'a cropped photo of the {}.',
    'a close-up photo of a {}.',
    'a bright photo of a {}.',
    'a dark photo of the {}.',
    'a low resolution photo of the {}.',
    'there is a {} in the scene.',
    'there is the {} in the scene.',
    'this is a {} in the scene.',
)


class CLIPTextEmbedder(nn.Module):
    """Frozen CLIP text tower + tokenizer: class names -> (L, embed_dim) unit vectors.

    Uses :func:`sair_toolbox.models.clip_loading.create_clip`, so with the same ``arch`` /
    ``pretrained`` / ``model_cfg`` as a :class:`MaskCLIPEncoder` it has the same weights and its
    embeddings live in the encoder's output space. Each class embedding is the mean over the
    templates of the L2-normalised text features, L2-normalised again (CLIP's prompt ensembling,
    as MaskCLIP's ``zeroshot_classifier``).

    Args:
        arch: open_clip model name.
        pretrained: open_clip tag, local checkpoint path, or None (random init, warned).
        model_cfg: optional custom open_clip CLIP config (``embed_dim``, ``vision_cfg``,
            ``text_cfg``); its tokenizer is the CLIP BPE one with ``text_cfg.context_length``.
        templates: prompt templates with one ``{}`` for the class name.
        cache_dir: open_clip's cache folder to look for tagged weights in.
        batch_size: prompts per text-tower forward (memory bound).
    """

    def __init__(self,
                 arch: str = 'ViT-B-16',
                 pretrained: Optional[str] = 'openai',
                 model_cfg: Optional[dict] = None,
                 templates: Sequence[str] = DEFAULT_TEMPLATES,
                 cache_dir: Optional[str] = None,
                 batch_size: int = 256):
        super().__init__()
        from .clip_loading import create_clip, get_clip_tokenizer
        templates = tuple(templates)
        if not templates or any(t.count('{}') != 1 for t in templates):
            raise ConfigError(f'templates must be a non-empty list of strings with exactly one '
                              f'"{{}}" each, got {list(templates)}')
        clip, info = create_clip(arch, pretrained, model_cfg, cache_dir)
        clip.visual = nn.Identity()  # the image tower is not needed here
        clip.requires_grad_(False)
        self.clip = clip.eval()
        self.tokenizer = get_clip_tokenizer(arch, model_cfg, cache_dir)
        self.templates = templates
        self.batch_size = int(batch_size)
        self.checkpoint = info.checkpoint
        self.embed_dim = int(self._embed_dim(clip))

    @staticmethod
    def _embed_dim(clip: nn.Module) -> int:
        proj = getattr(clip, 'text_projection', None)
        if isinstance(proj, nn.Linear):
            return proj.out_features
        if isinstance(proj, Tensor):
            return proj.shape[1]
        return clip.transformer.width

    def train(self, mode: bool = True):
        # Frozen: stays in eval mode.
        return super().train(False)

    def encode_prompts(self, prompts: Sequence[str]) -> Tensor:
        """L2-normalised text features of raw prompts: (N, embed_dim) float32.

        Differentiable (no ``no_grad`` here): the demo CLIP pretraining trains the text tower
        through it; :meth:`embed` is the frozen entry point.
        """
        device = next(self.clip.parameters()).device
        feats = []
        for start in range(0, len(prompts), self.batch_size):
            tokens = self.tokenizer(list(prompts[start:start + self.batch_size])).to(device)
            feats.append(self.clip.encode_text(tokens, normalize=True).float())
        return torch.cat(feats, dim=0)

    def class_embeddings(self, class_names: Sequence[str]) -> Tensor:
        """:meth:`embed` with autograd enabled (for training the text tower)."""
        if isinstance(class_names, str) or not class_names:
            raise ConfigError(f'class_names must be a non-empty list of strings, got '
                              f'{class_names!r}')
        names = [str(n) for n in class_names]
        prompts = [t.format(name) for name in names for t in self.templates]
        feats = self.encode_prompts(prompts).view(len(names), len(self.templates), -1)
        return F.normalize(feats.mean(dim=1), dim=-1)

    @torch.no_grad()
    def embed(self, class_names: Sequence[str]) -> Tensor:
        """Class-name embeddings.

        Args:
            class_names: L class names (``'hair'``, ``'wall'``, ...).

        Returns:
            (L, embed_dim) float32, each row of unit L2 norm.
        """
        return self.class_embeddings(class_names)

    def forward(self, class_names: Sequence[str]) -> Tensor:
        return self.embed(class_names)
