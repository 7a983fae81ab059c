"""Create open_clip models from local weights only (shared by the image and the text side).

:class:`~sair_toolbox.models.semantic_encoders.maskclip.MaskCLIPEncoder` and
:class:`~sair_toolbox.models.text_embedder.CLIPTextEmbedder` both call :func:`create_clip` with the
same ``arch`` / ``pretrained`` / ``model_cfg``, so the image features and the text embeddings live
in the same space (same weights).

Weights are never downloaded. ``pretrained`` is one of

* an open_clip pretrained tag (``'openai'``, ``'laion2b_s34b_b88k'``, ...): the file is looked up
  where open_clip itself would have cached it -- the Hugging Face hub cache (``cache_dir`` or
  ``$HF_HUB_CACHE``, the tag's ``hf_hub`` repo, safetensors first) and the URL cache (``cache_dir``
  or ``~/.cache/clip``, the URL's file name, e.g. OpenAI's ``ViT-B-16.pt``). Nothing is fetched: a
  tag whose file is not there raises :class:`WeightsNotFoundError` with one line saying where to
  put it. This is the fail-fast behaviour of ``HF_HUB_OFFLINE=1``, whatever the environment says.
* a path to a checkpoint file (open_clip state dict, ``.safetensors``, or OpenAI's TorchScript
  ``.pt``) or to a folder holding ``open_clip_pytorch_model.bin`` / ``open_clip_model.safetensors``;
* a dict naming a registered weights provider (``WEIGHTS_PROVIDERS``), e.g.
  ``dict(type='DemoCLIPWeights', cache_dir='data/demo_clip')``: the provider makes sure its file
  exists (it may build it, e.g. pretrain the demo world's CLIP on first use) and returns the local
  path, which is then loaded like any other file. The provider is given ``arch`` and ``model_cfg``.
  Weights that do not exist yet but can be produced offline are thus still "a local file" by the
  time the model reads them, whoever builds the model first (the Runner builds models before
  datasets);
* ``None``: random initialisation, with a loud warning. The random init uses a fixed seed, so the
  encoder and the text embedder built from the same config agree (tests, the CPU demo).

Pretrained tags carry facts that matter: the OpenAI weights were trained with QuickGELU
(open_clip 3.x builds ``ViT-B-16`` with nn.GELU unless told; we pass ``force_quick_gelu`` from the
tag, and for OpenAI's TorchScript ``.pt`` files) and the image mean/std returned in
:class:`ClipInfo`. A *path* to OpenAI weights converted to open_clip format carries no such
information: use ``arch='ViT-B-16-quickgelu'`` (or the tag) for those.
"""
import copy
import logging
import os
import os.path as osp
import zipfile
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple, Union

import torch
from torch import nn

from sair_toolbox.utils.errors import ConfigError, WeightsNotFoundError, warn_once

#: OpenAI CLIP image normalisation (open_clip's default for every tag that does not set its own).
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

#: Checkpoint file names looked for inside a folder, in open_clip's order of preference.
_DIR_CHECKPOINT_NAMES = ('open_clip_model.safetensors', 'open_clip_pytorch_model.safetensors',
                         'open_clip_pytorch_model.bin', 'open_clip_pytorch_model.pth',
                         'model.safetensors', 'pytorch_model.bin', 'model.pth')
_CHECKPOINT_SUFFIXES = ('.bin', '.pt', '.pth', '.safetensors', '.ckpt')
_RANDOM_INIT_SEED = 0


@dataclass
class ClipInfo:
    """What was built: image normalisation and where the weights came from.

    Attributes:
        mean: per-channel RGB mean on the [0, 1] scale.
        std: per-channel RGB std on the [0, 1] scale.
        checkpoint: the local file the weights were loaded from, or None (random init).
        description: ``"<arch> (pretrained=...)"`` for messages.
    """
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float]
    checkpoint: Optional[str]
    description: str


def _looks_like_path(value: str) -> bool:
    return (os.sep in value or '/' in value or value.startswith(('~', '.'))
            or value.lower().endswith(_CHECKPOINT_SUFFIXES))


def _find_checkpoint_in_dir(folder: str) -> Optional[str]:
    for name in _DIR_CHECKPOINT_NAMES:
        path = osp.join(folder, name)
        if osp.isfile(path):
            return path
    return None


def _tag_candidates(tag_cfg: dict, cache_dir: Optional[str]):
    """Local places where open_clip would have cached the tag's weights, and a hint line."""
    candidates = []
    hints = []
    if tag_cfg.get('file'):
        candidates.append(tag_cfg['file'])
        hints.append(tag_cfg['file'])
    hf_hub = tag_cfg.get('hf_hub', '')
    if hf_hub:
        from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME
        # open_clip's convention: 'org/repo/' (default file name) or 'org/repo/file.bin'.
        repo_id, _, filename = hf_hub.rpartition('/')
        filename = filename or HF_WEIGHTS_NAME
        names = [filename]
        if filename == HF_WEIGHTS_NAME:
            names.insert(0, HF_SAFE_WEIGHTS_NAME)
        elif filename.endswith(('.bin', '.pth')):
            names.insert(0, filename[:-4] + '.safetensors')
        try:
            from huggingface_hub import constants as hf_constants
            from huggingface_hub import try_to_load_from_cache
        except ImportError:  # pragma: no cover - huggingface_hub ships with open_clip
            try_to_load_from_cache = None
            hf_cache = cache_dir or '~/.cache/huggingface/hub'
        else:
            hf_cache = cache_dir or hf_constants.HF_HUB_CACHE
        if try_to_load_from_cache is not None:
            for name in names:
                found = try_to_load_from_cache(repo_id, name, cache_dir=cache_dir)
                if isinstance(found, str):
                    candidates.append(found)
        hints.append(f'{filename} of HF repo {repo_id} in the HF hub cache {hf_cache}')
    url = tag_cfg.get('url', '')
    if url:
        url_dir = cache_dir or osp.expanduser('~/.cache/clip')
        target = osp.join(url_dir, osp.basename(url))
        candidates.append(target)
        hints.append(f'{url} saved as {target}')
    return candidates, hints


def resolve_clip_checkpoint(arch: str,
                            pretrained: Union[None, str, Mapping],
                            cache_dir: Optional[str] = None,
                            model_cfg: Optional[dict] = None) -> Tuple[Optional[str], dict]:
    """Find the local weights file for ``pretrained`` without touching the network.

    Args:
        arch: open_clip model name (``'ViT-B-16'``).
        pretrained: an open_clip tag of ``arch``, a file or folder path, a weights-provider
            config (dict with ``type``), or None.
        cache_dir: the cache folder open_clip would have downloaded into (None: its defaults).
        model_cfg: the custom open_clip config the weights are for (passed to providers).

    Returns:
        ``(path, tag_cfg)``: the checkpoint file (None for random init) and the tag's open_clip
        pretrained config (``{}`` unless ``pretrained`` is a tag).

    Raises:
        WeightsNotFoundError: a path that does not exist, or a tag whose file is not cached.
        ConfigError: ``pretrained`` is neither a path nor a tag of ``arch``.
    """
    if pretrained is None or pretrained == '':
        return None, {}
    if isinstance(pretrained, Mapping):
        return provided_checkpoint(pretrained, arch, model_cfg, cache_dir), {}
    if not isinstance(pretrained, str):
        raise ConfigError(f'pretrained must be an open_clip tag, a path, a weights-provider '
                          f'dict or None, got {pretrained!r}')
    path = osp.expanduser(pretrained)
    if osp.isfile(path):
        return path, {}
    if osp.isdir(path):
        found = _find_checkpoint_in_dir(path)
        if found is None:
            raise WeightsNotFoundError(
                f'no CLIP checkpoint in folder {path} (expected one of '
                f'{", ".join(_DIR_CHECKPOINT_NAMES[:3])})')
        return found, {}

    from open_clip.pretrained import get_pretrained_cfg, list_pretrained_tags_by_model
    tag_cfg = get_pretrained_cfg(arch, pretrained)
    if not tag_cfg:
        if _looks_like_path(pretrained):
            raise WeightsNotFoundError(
                f'CLIP weights file not found: {path} (pretrained={pretrained!r})')
        tags = list_pretrained_tags_by_model(arch)
        raise ConfigError(
            f'pretrained={pretrained!r} is neither a file on disk nor an open_clip tag of '
            f'{arch!r} (tags: {", ".join(tags) if tags else "none"})')
    candidates, hints = _tag_candidates(tag_cfg, cache_dir)
    for candidate in candidates:
        if osp.isfile(candidate):
            return candidate, dict(tag_cfg)
    raise WeightsNotFoundError(
        f'open_clip weights for {arch} (pretrained={pretrained!r}) are not on disk and are never '
        f'downloaded here: put {" or ".join(hints)}, or pass '
        f'pretrained=/path/to/open_clip_pytorch_model.bin')


def provided_checkpoint(provider_cfg: Mapping, arch: str, model_cfg: Optional[dict],
                         cache_dir: Optional[str]) -> str:
    """The local file a ``WEIGHTS_PROVIDERS`` config names (built by the provider if needed).

    A provider that trains or downloads on first use runs inside
    :func:`~sair_toolbox.utils.global_state.preserved_global_state`: the model being built gets
    the same weights whether the provider's cache existed or not.
    """
    from sair_toolbox.registry import WEIGHTS_PROVIDERS
    from sair_toolbox.utils.global_state import preserved_global_state
    if 'type' not in provider_cfg:
        raise ConfigError(f'a pretrained dict must name a weights provider with "type", got '
                          f'{dict(provider_cfg)!r}')
    try:
        provider = WEIGHTS_PROVIDERS.build(dict(provider_cfg))
    except KeyError as exc:
        raise ConfigError(f'unknown weights provider {provider_cfg["type"]!r} (pretrained='
                          f'{dict(provider_cfg)!r}): {exc}') from exc
    with preserved_global_state():
        path = provider.resolve(arch=arch, model_cfg=model_cfg, cache_dir=cache_dir)
    if not osp.isfile(path):
        raise WeightsNotFoundError(f'weights provider {provider_cfg["type"]} returned {path}, '
                                   'which is not a file')
    return path


def _is_torchscript(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(name.endswith('constants.pkl') for name in zf.namelist())


def load_clip_weights(model: nn.Module, path: str, description: str) -> None:
    """Load a checkpoint file into an open_clip model (strict).

    OpenAI's original ``.pt`` files are TorchScript archives, which ``torch.load`` refuses with
    ``weights_only=True`` (open_clip 3.x then fails); they are read with ``torch.jit.load`` and
    only their state dict is used. Everything else goes through open_clip's ``load_checkpoint``
    with ``weights_only=True`` (state-dict key conversions and position-embedding resizing).
    """
    import open_clip
    try:
        if _is_torchscript(path):
            state_dict = torch.jit.load(path, map_location='cpu').state_dict()
            for key in ('input_resolution', 'context_length', 'vocab_size'):
                state_dict.pop(key, None)
            # TorchScript keeps non-persistent buffers (the text causal mask) in its state dict.
            state_dict = {k: v for k, v in state_dict.items() if not k.endswith('attn_mask')}
            model.load_state_dict({k: v.float() for k, v in state_dict.items()}, strict=True)
        else:
            open_clip.load_checkpoint(model, path, strict=True, weights_only=True)
    except (RuntimeError, KeyError, ValueError) as exc:
        first = ' '.join(str(exc).split())[:300]
        raise ConfigError(f'checkpoint {path} does not fit {description}: {first}') from exc
    except Exception as exc:  # unpickling errors (weights_only) and corrupt files
        first = ' '.join(str(exc).split())[:300]
        raise ConfigError(f'cannot read CLIP checkpoint {path}: {type(exc).__name__}: {first}') \
            from exc


def check_model_cfg(model_cfg: dict) -> dict:
    """A validated deep copy of a custom open_clip ``model_cfg`` (one-line errors)."""
    if not isinstance(model_cfg, dict):
        raise ConfigError(f'model_cfg must be a dict, got {type(model_cfg).__name__}')
    missing = [k for k in ('embed_dim', 'vision_cfg', 'text_cfg') if k not in model_cfg]
    if missing:
        raise ConfigError(f'model_cfg lacks {", ".join(missing)} (open_clip CLIP arguments: '
                          'embed_dim, vision_cfg, text_cfg[, quick_gelu])')
    cfg = copy.deepcopy(dict(model_cfg))
    cfg['vision_cfg'], cfg['text_cfg'] = dict(cfg['vision_cfg']), dict(cfg['text_cfg'])
    if cfg['vision_cfg'].get('timm_model_name') or cfg['text_cfg'].get('hf_model_name'):
        raise ConfigError('model_cfg must describe open_clip native towers (no timm_model_name / '
                          'hf_model_name): those may download weights')
    if cfg['text_cfg'].get('hf_tokenizer_name'):
        raise ConfigError('model_cfg with hf_tokenizer_name is not supported offline; use the CLIP '
                          'BPE tokenizer (drop hf_tokenizer_name)')
    return cfg


def warn_random_init(description: str) -> None:
    """The loud warning for frozen CLIP models without weights, once per process.

    The message names the weights, not the model asking: the semantic encoder and every text
    embedder built from the same config (segmentation check, visualization hook, class-logit
    fusion) share the same random CLIP, so the user is told once (:func:`warn_once`).
    """
    warn_once(f'no pretrained weights for {description}; the CLIP model is randomly initialised '
              '(fixed seed, the same for its image and text towers) and semantic features are '
              'meaningless without pretrained weights')


def build_clip_from_cfg(model_cfg: dict, quick_gelu: bool = False) -> nn.Module:
    """An open_clip ``CLIP`` (or ``CustomTextCLIP``) of a custom ``model_cfg``, default init."""
    from open_clip.model import CLIP, CustomTextCLIP
    cfg = check_model_cfg(model_cfg)
    cfg['quick_gelu'] = bool(cfg.get('quick_gelu', False) or quick_gelu)
    cls = CustomTextCLIP if cfg.pop('custom_text', False) else CLIP
    try:
        return cls(**cfg)
    except (TypeError, ValueError, AssertionError) as exc:
        raise ConfigError(f'invalid open_clip model_cfg: {exc}') from exc


def create_clip(arch: str = 'ViT-B-16',
                pretrained: Union[None, str, Mapping] = 'openai',
                model_cfg: Optional[dict] = None,
                cache_dir: Optional[str] = None) -> Tuple[nn.Module, ClipInfo]:
    """Build an open_clip CLIP model on CPU in fp32, eval mode, with local weights only.

    Args:
        arch: open_clip model name; ignored for the architecture when ``model_cfg`` is given, but
            still the model whose tags ``pretrained`` is looked up in.
        pretrained: open_clip tag, checkpoint path/folder, weights-provider dict, or None
            (random init, warned).
        model_cfg: optional ``dict(embed_dim, vision_cfg, text_cfg[, quick_gelu, custom_text])``
            as open_clip's ``CLIP`` takes, for a custom (e.g. tiny) model.
        cache_dir: open_clip's download cache folder to look in (None: open_clip's defaults).

    Returns:
        ``(model, info)``.
    """
    import open_clip

    checkpoint, tag_cfg = resolve_clip_checkpoint(arch, pretrained, cache_dir, model_cfg)
    name = arch if model_cfg is None else 'model_cfg'
    description = f'open_clip {name} (pretrained={pretrained!r})'
    # OpenAI's TorchScript files are always QuickGELU models; tags say so in their config.
    quick_gelu = bool(tag_cfg.get('quick_gelu', False)) or (
        checkpoint is not None and _is_torchscript(checkpoint))
    with torch.random.fork_rng(devices=[]):
        # A fixed seed makes random init reproducible and identical for the image and text side.
        torch.manual_seed(_RANDOM_INIT_SEED)
        if model_cfg is not None:
            model = build_clip_from_cfg(model_cfg, quick_gelu)
        else:
            if arch not in open_clip.list_models():
                raise ConfigError(f'unknown open_clip arch {arch!r} (see open_clip.list_models())')
            # open_clip logs "No pretrained weights loaded" (root logger) because we load them
            # ourselves below; silence that misleading line.
            previous = logging.root.manager.disable
            logging.disable(logging.WARNING)
            try:
                model = open_clip.create_model(
                    arch, pretrained=None, precision='fp32', device='cpu',
                    force_quick_gelu=quick_gelu, pretrained_image=False, pretrained_text=False,
                    cache_dir=cache_dir)
            finally:
                logging.disable(previous)
    model = model.float().eval()
    if checkpoint is not None:
        load_clip_weights(model, checkpoint, description)
    else:
        warn_random_init(description)
    mean = tuple(tag_cfg.get('mean', OPENAI_MEAN))
    std = tuple(tag_cfg.get('std', OPENAI_STD))
    return model, ClipInfo(mean=mean, std=std, checkpoint=checkpoint, description=description)


def get_clip_tokenizer(arch: str,
                       model_cfg: Optional[dict] = None,
                       cache_dir: Optional[str] = None):
    """The tokenizer matching :func:`create_clip`'s model (the CLIP BPE one ships with open_clip).

    For a named ``arch`` this is ``open_clip.get_tokenizer(arch)`` (a ``SimpleTokenizer`` for the
    OpenAI/LAION CLIP models, offline). For ``model_cfg`` it is a ``SimpleTokenizer`` with the
    ``text_cfg`` context length.
    """
    import open_clip
    if model_cfg is None:
        return open_clip.get_tokenizer(arch, cache_dir=cache_dir)
    text_cfg = check_model_cfg(model_cfg)['text_cfg']
    from open_clip.tokenizer import SimpleTokenizer
    return SimpleTokenizer(context_length=int(text_cfg.get('context_length', 77)),
                           **(text_cfg.get('tokenizer_kwargs') or {}))
