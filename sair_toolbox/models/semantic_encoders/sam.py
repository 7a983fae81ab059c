"""Segment Anything's image encoder as a frozen dense encoder (paper Sec. 5.3, Tab. 6)."""
import os.path as osp
from functools import partial
from typing import Dict, Mapping, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sair_toolbox.registry import SEMANTIC_ENCODERS
from sair_toolbox.utils.errors import ConfigError, WeightsNotFoundError, warn_once

from .base import BaseSemanticEncoder

#: Hyper-parameters of ``segment_anything.build_sam`` per architecture (``_build_sam`` arguments).
SAM_ARCHS = {
    'vit_b': dict(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11)),
    'vit_l': dict(embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23)),
    'vit_h': dict(embed_dim=1280, depth=32, num_heads=16, global_attn_indexes=(7, 15, 23, 31)),
}
#: Official checkpoint files (full SAM models; the encoder keys start with ``image_encoder.``).
SAM_CHECKPOINTS = {
    'vit_b': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth',
    'vit_l': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth',
    'vit_h': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth',
}
#: ``model_cfg`` keys that may override the architecture (tiny models for tests, the demo SAM).
_OVERRIDABLE = ('embed_dim', 'depth', 'num_heads', 'global_attn_indexes', 'window_size',
                'mlp_ratio', 'out_chans', 'patch_size')
# SAM's pixel statistics, on the 0-255 scale (``_build_sam``'s pixel_mean / pixel_std).
_PIXEL_MEAN = (123.675, 116.28, 103.53)
_PIXEL_STD = (58.395, 57.12, 57.375)
_NATIVE_IMG_SIZE = 1024
_PATCH = 16


def _resize_rel_pos(rel_pos: Tensor, length: int) -> Tensor:
    """Linear resize of a (L, C) relative-position table, as ``get_rel_pos`` does."""
    out = F.interpolate(rel_pos.t().unsqueeze(0), size=length, mode='linear')
    return out[0].t()


@SEMANTIC_ENCODERS.register_module()
class SAMEncoder(BaseSemanticEncoder):
    """SAM's ``ImageEncoderViT`` (ViT + neck): (B, 3, H, W) in [0, 1] -> (B, 256, H/16, W/16)
    (``out_chans`` channels, ``H/patch_size`` rows with ``model_cfg`` overrides).

    Built with the hyper-parameters of ``segment_anything``'s ``build_sam_vit_{b,l,h}`` (window
    size 14, relative positions, LayerNorm eps 1e-6), image encoder only. Weights come from an
    official full SAM checkpoint (``image_encoder.*`` keys are taken) or an encoder-only state
    dict, read with ``torch.load(weights_only=True)``.

    Any input size: SAM's absolute position embedding is fixed at ``img_size/16`` patches per
    side (64 x 64); it is bicubically resized to ``(H/16, W/16)`` (cached per size) instead of
    padding the image to 1024 as SAM's predictor does. Windowed blocks pad to a multiple of the
    window size themselves, and the global-attention blocks' relative-position tables are
    linearly interpolated to ``2 * size - 1`` by SAM's own ``get_rel_pos`` when the grid differs.
    Normalisation: SAM's pixel mean/std on the 0-255 scale.

    Args:
        arch: ``'vit_b'``, ``'vit_l'`` or ``'vit_h'``.
        checkpoint: path to ``sam_vit_b_01ec64.pth`` (etc.) or an encoder-only state dict; a
            dict naming a registered weights provider (``WEIGHTS_PROVIDERS``, e.g.
            ``dict(type='DemoSAMWeights')``), whose ``resolve(arch=..., model_cfg=...)`` gets the
            full architecture (``model_cfg`` with every key of ``_OVERRIDABLE`` and ``img_size``)
            and returns such a file; None is random init (warned).
        img_size: the native input size the absolute position embedding is built for (None:
            SAM's 1024). A checkpoint's embedding (and its global blocks' relative-position
            tables) are resized on load when it differs.
        model_cfg: overrides of ``embed_dim``, ``depth``, ``num_heads``, ``global_attn_indexes``,
            ``window_size``, ``mlp_ratio``, ``out_chans``, ``patch_size`` (tiny models for tests,
            the demo SAM; ``patch_size`` defaults to SAM's 16).
        init_cfg: MMEngine init config (normally None).
    """

    def __init__(self,
                 arch: str = 'vit_b',
                 checkpoint: Union[None, str, Mapping] = None,
                 img_size: Optional[int] = None,
                 model_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if arch not in SAM_ARCHS:
            raise ConfigError(f'SAMEncoder arch must be one of {sorted(SAM_ARCHS)}, got {arch!r}')
        cfg = dict(SAM_ARCHS[arch], window_size=14, mlp_ratio=4.0, out_chans=256,
                   patch_size=_PATCH)
        if model_cfg:
            unknown = sorted(set(model_cfg) - set(_OVERRIDABLE))
            if unknown:
                raise ConfigError(f'SAMEncoder model_cfg: unknown keys {unknown}; allowed: '
                                  f'{list(_OVERRIDABLE)}')
            cfg.update(model_cfg)
        img_size = _NATIVE_IMG_SIZE if img_size is None else int(img_size)
        patch = int(cfg['patch_size'])
        if patch <= 0 or img_size <= 0 or img_size % patch:
            raise ConfigError(f'SAMEncoder img_size must be a positive multiple of the patch size '
                              f'{patch}, got {img_size}')
        if isinstance(checkpoint, Mapping):
            from sair_toolbox.models.clip_loading import provided_checkpoint
            arch_cfg = dict(cfg, global_attn_indexes=list(cfg['global_attn_indexes']),
                            img_size=img_size)
            checkpoint = provided_checkpoint(checkpoint, arch, arch_cfg, None)
        if checkpoint is not None and not osp.isfile(osp.expanduser(checkpoint)):
            name = osp.basename(SAM_CHECKPOINTS[arch])
            raise WeightsNotFoundError(
                f'SAM checkpoint not found: {checkpoint} (for arch {arch!r} download {name} from '
                f'{SAM_CHECKPOINTS[arch]} and pass its path as checkpoint=)')

        from segment_anything.modeling import ImageEncoderViT
        self.arch = arch
        self.checkpoint = checkpoint
        self.img_size = img_size
        self.patch_size = patch
        self.out_channels = int(cfg['out_chans'])
        self.native_grid = (img_size // patch, img_size // patch)
        self.image_encoder = ImageEncoderViT(
            depth=int(cfg['depth']),
            embed_dim=int(cfg['embed_dim']),
            img_size=img_size,
            mlp_ratio=float(cfg['mlp_ratio']),
            norm_layer=partial(nn.LayerNorm, eps=1e-6),
            num_heads=int(cfg['num_heads']),
            patch_size=patch,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=tuple(cfg['global_attn_indexes']),
            window_size=int(cfg['window_size']),
            out_chans=self.out_channels,
        )
        self.register_buffer(
            'pixel_mean', torch.tensor(_PIXEL_MEAN).view(1, 3, 1, 1) / 255, persistent=False)
        self.register_buffer(
            'pixel_std', torch.tensor(_PIXEL_STD).view(1, 3, 1, 1) / 255, persistent=False)
        if checkpoint is not None:
            self._load_checkpoint(osp.expanduser(checkpoint))
        else:
            msg = (f'SAMEncoder: no checkpoint for SAM {arch}; the image encoder is randomly '
                   'initialised and semantic features are meaningless without pretrained weights '
                   f'(download {SAM_CHECKPOINTS[arch]})')
            warn_once(msg)
        self._pos_cache: Dict[tuple, Tensor] = {}
        self.freeze()

    # ------------------------------------------------------------------ weights
    def _load_checkpoint(self, path: str) -> None:
        try:
            state = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as exc:
            first = ' '.join(str(exc).split())[:300]
            raise ConfigError(f'cannot read SAM checkpoint {path}: {type(exc).__name__}: {first}') \
                from exc
        if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
            state = state['state_dict']
        if not isinstance(state, dict):
            raise ConfigError(f'SAM checkpoint {path} is not a state dict ({type(state).__name__})')
        prefix = 'image_encoder.'
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        state = self._fit_to_img_size(state)
        try:
            self.image_encoder.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = ' '.join(str(exc).split())[:300]
            raise ConfigError(f'SAM checkpoint {path} does not fit SAMEncoder(arch={self.arch!r}): '
                              f'{first}') from exc

    def _fit_to_img_size(self, state: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Resize a checkpoint's position tables when ``img_size`` differs from its own."""
        enc = self.image_encoder
        pos = state.get('pos_embed')
        if pos is not None and enc.pos_embed is not None and pos.shape != enc.pos_embed.shape \
                and pos.shape[-1] == enc.pos_embed.shape[-1]:
            state['pos_embed'] = self.resize_abs_pos(pos, self.native_grid)
        for i, block in enumerate(enc.blocks):
            if block.window_size:
                continue  # windowed blocks' tables depend on the window size, not the image size
            for axis in ('h', 'w'):
                key = f'blocks.{i}.attn.rel_pos_{axis}'
                own = getattr(block.attn, f'rel_pos_{axis}')
                if key in state and state[key].shape != own.shape \
                        and state[key].shape[1] == own.shape[1]:
                    state[key] = _resize_rel_pos(state[key].float(), own.shape[0])
        return state

    # ------------------------------------------------------------------ positional embedding
    @staticmethod
    def resize_abs_pos(pos: Tensor, size) -> Tensor:
        """Bicubic resize of a (1, gh, gw, C) absolute position embedding to (1, h, w, C)."""
        if tuple(pos.shape[1:3]) == tuple(size):
            return pos
        out = F.interpolate(pos.permute(0, 3, 1, 2).float(), size=tuple(size), mode='bicubic',
                            align_corners=False)
        return out.permute(0, 2, 3, 1).to(pos.dtype)

    def pos_embed(self, h: int, w: int) -> Optional[Tensor]:
        """Absolute position embedding for an ``h x w`` patch grid: (1, h, w, C), cached."""
        pos = self.image_encoder.pos_embed
        if pos is None:
            return None
        key = (h, w, pos.device, pos.dtype, pos.data_ptr(), pos._version)
        cached = self._pos_cache.get(key)
        if cached is None:
            if len(self._pos_cache) >= 8:
                self._pos_cache.clear()
            cached = self._pos_cache[key] = self.resize_abs_pos(pos.detach(), (h, w))
        return cached

    # ------------------------------------------------------------------ forward
    def encode(self, img: Tensor) -> Tensor:
        """Features of an input whose sides are multiples of ``patch_size`` (16).

        Args:
            img: (B, 3, H, W) RGB in [0, 1].

        Returns:
            (B, out_channels, H/patch_size, W/patch_size).
        """
        enc = self.image_encoder
        x = (img - self.pixel_mean) / self.pixel_std
        x = enc.patch_embed(x)  # (B, h, w, C)
        pos = self.pos_embed(x.shape[1], x.shape[2])
        if pos is not None:
            x = x + pos
        for block in enc.blocks:
            x = block(x)
        return enc.neck(x.permute(0, 3, 1, 2))

    def extra_repr(self) -> str:
        return (f'arch={self.arch!r}, checkpoint={self.checkpoint!r}, img_size={self.img_size}, '
                f'out_channels={self.out_channels}')
