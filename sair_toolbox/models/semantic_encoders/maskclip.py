"""MaskCLIP dense features from a frozen open_clip ViT (paper Sec. 4.2)."""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sair_toolbox.registry import SEMANTIC_ENCODERS
from sair_toolbox.utils.errors import ConfigError

from .base import BaseSemanticEncoder


@SEMANTIC_ENCODERS.register_module()
class MaskCLIPEncoder(BaseSemanticEncoder):
    """Text-aligned patch embeddings of CLIP's image tower, MaskCLIP style (Zhou et al., 2022).

    All transformer blocks run as usual except the last one, whose attention is reduced to its
    value path: with ``y = ln_1(x)``, ``v = out_proj(v_proj(y))`` (q and k are dropped, ``v_proj``
    is the value slice of ``in_proj_weight``/``in_proj_bias``). Then, per patch token,
    ``ln_post`` and the final projection ``proj`` (the two "1x1 convolutions" of the paper).
    The class token is dropped and the tokens are reshaped to ``(B, embed_dim, H/p, W/p)``.

    ``keep_last_residual`` selects what the last block returns:

    * ``True`` -- official MaskCLIP (its released mmseg code: ``mmseg/models/backbones/vit.py``,
      ``TransformerEncoderLayer.forward`` with ``return_qkv=True``; ``configs/_base_/models/
      maskclip_vit16.py`` sets ``final_norm=True`` so ``ln_post`` is applied to ``v``, and
      ``MaskClipHead(vit=True)`` applies CLIP's ``proj`` as a bias-free 1x1 conv)::

          v = x + out_proj(v_proj(ln_1(x)))
          v = v + mlp(ln_2(v))
          z = ln_post(v) @ proj

      That is the block with attention replaced by its value path, residual and MLP kept.
      (LayerScale, if a model has it, multiplies each branch as in the normal block.) The paper
      follows MaskCLIP, so this is the default.
    * ``False`` -- FeatUp's re-implementation (``featup/featurizers/maskclip/model.py``,
      ``ResidualAttentionBlock.forward_v``: "adding this to 'x' or feeding 'v' to the LayerNorm
      then MLP degrades the performance")::

          v = out_proj(v_proj(ln_1(x)))
          z = ln_post(v) @ proj

    Differences from the official code that are deliberate: the blocks use the activation and
    LayerNorm epsilon of the open_clip model the weights were trained with (QuickGELU, eps 1e-5
    for OpenAI's weights; MaskCLIP's mmseg port builds them with nn.GELU and eps 1e-6).

    The grid part of the positional embedding is resized bicubically (``align_corners=False``,
    as MaskCLIP's ``resize_pos_embed``) from its native grid (14 x 14 for ViT-B/16 at 224) to
    ``(H/p, W/p)``; the class-token entry is kept. Resized embeddings are cached per size.

    Args:
        arch: open_clip model name (a ViT, e.g. ``'ViT-B-16'``).
        pretrained: open_clip tag (``'openai'``), a local checkpoint path, or None (random init,
            warned). Weights are never downloaded; see :mod:`sair_toolbox.models.clip_loading`.
        model_cfg: optional ``dict(embed_dim, vision_cfg, text_cfg)`` for a custom open_clip CLIP
            (e.g. a tiny one for tests and the CPU demo).
        keep_last_residual: official MaskCLIP (True) or FeatUp's variant (False), see above.
        cache_dir: open_clip's cache folder to look for tagged weights in.
        init_cfg: MMEngine init config (weights come from ``pretrained``; normally None).

    Input / output: (B, 3, H, W) RGB in [0, 1] -> (B, embed_dim, H/p, W/p) (512 x H/16 x W/16 for
    ViT-B-16); CLIP's mean/std normalisation happens inside.
    """

    def __init__(self,
                 arch: str = 'ViT-B-16',
                 pretrained: Optional[str] = 'openai',
                 model_cfg: Optional[dict] = None,
                 keep_last_residual: bool = True,
                 cache_dir: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        from ..clip_loading import create_clip
        clip, info = create_clip(arch, pretrained, model_cfg, cache_dir)
        visual = clip.visual
        del clip  # the text tower is not needed here
        self._check_supported(visual, arch if model_cfg is None else 'model_cfg')
        self.visual = visual
        self.arch = arch
        self.pretrained = pretrained
        self.checkpoint = info.checkpoint
        self.keep_last_residual = bool(keep_last_residual)
        self.patch_size = int(visual.patch_size[0])
        self.native_grid = tuple(int(g) for g in visual.grid_size)
        self.out_channels = int(visual.proj.shape[1])
        self.register_buffer('mean', torch.tensor(info.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(info.std).view(1, 3, 1, 1), persistent=False)
        self._pos_cache: Dict[tuple, Tensor] = {}
        self.freeze()

    @staticmethod
    def _check_supported(visual: nn.Module, name: str) -> None:
        from open_clip.transformer import ResidualAttentionBlock, VisionTransformer
        if not isinstance(visual, VisionTransformer):
            raise ConfigError(f'MaskCLIPEncoder needs an open_clip ViT image tower; {name} has '
                              f'{type(visual).__name__}')
        if visual.attn_pool is not None:
            raise ConfigError(f'MaskCLIPEncoder: {name} uses an attentional pooler (CoCa-style); '
                              'only the standard ViT + ln_post + proj head is supported')
        if visual.proj is None:
            raise ConfigError(f'MaskCLIPEncoder: {name} has no final projection (proj is None)')
        if visual.patch_size[0] != visual.patch_size[1]:
            raise ConfigError(f'MaskCLIPEncoder: {name} has non-square patches {visual.patch_size}')
        for block in visual.transformer.resblocks:
            attn = getattr(block, 'attn', None)
            if not isinstance(block, ResidualAttentionBlock) or \
                    not isinstance(attn, nn.MultiheadAttention):
                raise ConfigError(f'MaskCLIPEncoder: {name} uses {type(block).__name__} blocks '
                                  '(qk-norm, scaled cosine attention, ...); only the standard '
                                  'nn.MultiheadAttention block is supported')
            if not attn._qkv_same_embed_dim:
                raise ConfigError(f'MaskCLIPEncoder: {name} has separate q/k/v projection '
                                  'weights')
            if attn.bias_k is not None or attn.add_zero_attn or hasattr(block, 'ln_1_kv'):
                raise ConfigError(f'MaskCLIPEncoder: {name} has attention with extra key/value '
                                  'biases, zero attention or cross-attention; not supported')

    # ------------------------------------------------------------------ positional embedding
    def pos_embed(self, h: int, w: int) -> Tensor:
        """Positional embedding for an ``h x w`` patch grid: (1 + h * w, width).

        The class-token row is kept; the grid rows are bicubically resized from the native grid.
        Cached per size (the key includes the parameter's version, so reloading weights
        invalidates it).
        """
        pos = self.visual.positional_embedding
        gh, gw = self.native_grid
        if (h, w) == (gh, gw):
            # The parameter itself: a tower being trained through encode() (the demo CLIP
            # pretraining) gets its gradient; a frozen one has requires_grad=False anyway.
            return pos
        key = (h, w, pos.device, pos.dtype, pos.data_ptr(), pos._version)
        cached = self._pos_cache.get(key)
        if cached is not None:
            return cached
        grid = pos[1:].detach().reshape(1, gh, gw, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode='bicubic', align_corners=False)
        out = torch.cat([pos[:1].detach(), grid.flatten(2).transpose(1, 2)[0]], dim=0)
        if len(self._pos_cache) >= 8:
            self._pos_cache.clear()
        self._pos_cache[key] = out
        return out

    # ------------------------------------------------------------------ forward
    @staticmethod
    def _block(block: nn.Module, x: Tensor) -> Tensor:
        """An open_clip ``ResidualAttentionBlock`` (no attention mask) on a batch-first
        (B, L, E) ``x``: the operations of ``block(x)`` (pre-LN self-attention through
        ``scaled_dot_product_attention``, LayerScale, MLP), with the q/k/v projection run on
        the batch-first tensor, one matrix product over all tokens.

        Why not ``block(x)`` for the frozen encoder under autocast: ``nn.MultiheadAttention``
        transposes its input to (L, B, E), and without autograd and outside its fused path
        (which autocast turns off) ``torch.matmul`` does not fold that strided view into one
        product but runs a batched product over a copy of the projection weight for every
        token: 257 copies of ViT-B/16's 768 x 2304 weight per block at 256 x 256 (batch >= 2).
        ``tools/benchmark.py --suite encoder`` times both and prints their largest
        difference (0, bitwise equal, on the CPU this project measures on; the tests allow
        float rounding).
        """
        attn = block.attn
        b, n, e = x.shape
        heads = attn.num_heads
        qkv = F.linear(block.ln_1(x), attn.in_proj_weight, attn.in_proj_bias)
        q, k, v = qkv.view(b, n, 3, heads, e // heads).permute(2, 0, 3, 1, 4)
        dropout = attn.dropout if attn.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        y = F.linear(y.transpose(1, 2).reshape(b, n, e), attn.out_proj.weight,
                     attn.out_proj.bias)
        x = x + block.ls_1(y)
        return x + block.ls_2(block.mlp(block.ln_2(x)))

    def run_blocks(self, x: Tensor, open_clip_blocks: Optional[bool] = None) -> Tensor:
        """Every transformer block but the last on batch-first tokens (B, L, width).

        Args:
            x: (B, L, width) tokens after ``ln_pre``.
            open_clip_blocks: call open_clip's blocks (``True``) or run them batch-first
                (:meth:`_block`, ``False``). Default: batch-first exactly where open_clip's
                blocks copy weights, i.e. under autocast without autograd (the frozen encoder
                in mixed-precision training and test: the same values, see :meth:`_block`);
                open_clip's blocks elsewhere -- in float32 without autograd their fused
                attention path runs, and with autograd (the demo CLIP pretraining trains the
                tower through :meth:`encode`) their weight gradients sum the tokens in
                open_clip's order, which keeps the bits of the cached demo CLIP.

        Returns:
            (B, L, width).
        """
        if open_clip_blocks is None:
            open_clip_blocks = (torch.is_grad_enabled()
                                or not torch.is_autocast_enabled(x.device.type))
        transformer = self.visual.transformer
        blocks = transformer.resblocks[:-1]
        if not open_clip_blocks:
            for block in blocks:
                x = self._block(block, x)
            return x
        batch_first = getattr(transformer, 'batch_first', True)
        x = x if batch_first else x.transpose(0, 1)
        for block in blocks:
            x = block(x)
        return x if batch_first else x.transpose(0, 1)

    def _value_path(self, block: nn.Module, x: Tensor) -> Tensor:
        """``out_proj(v_proj(ln_1(x)))`` of an open_clip block, scaled by its LayerScale."""
        attn = block.attn
        dim = attn.embed_dim
        w_v = attn.in_proj_weight[2 * dim:]
        b_v = attn.in_proj_bias[2 * dim:] if attn.in_proj_bias is not None else None
        v = F.linear(block.ln_1(x), w_v, b_v)
        v = F.linear(v, attn.out_proj.weight, attn.out_proj.bias)
        return block.ls_1(v)

    def tokens(self, img: Tensor) -> Tensor:
        """The tokens the transformer blocks start from: patch embeddings after the class token,
        the (resized) positional embedding and ``ln_pre``.

        Args:
            img: (B, 3, H, W) RGB in [0, 1], sides multiples of ``patch_size``.

        Returns:
            (B, 1 + H/p * W/p, width); in the autocast dtype under autocast (the patch
            convolution runs in it), which is what sends open_clip's attention down the
            weight-copying path (:meth:`_block`).
        """
        visual = self.visual
        x = (img - self.mean) / self.std
        x = visual.conv1(x.to(visual.conv1.weight.dtype))  # (B, width, h, w)
        b, _, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        cls = visual.class_embedding.to(x.dtype).view(1, 1, -1).expand(b, -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed(h, w).to(x.dtype)
        # patch_dropout is the identity in eval mode and the encoder is always in eval mode.
        return visual.ln_pre(x)

    def encode(self, img: Tensor) -> Tensor:
        """Dense features of an input whose sides are multiples of ``patch_size``.

        Args:
            img: (B, 3, H, W) RGB in [0, 1].

        Returns:
            (B, out_channels, H/p, W/p).
        """
        visual = self.visual
        h, w = img.shape[-2] // self.patch_size, img.shape[-1] // self.patch_size
        x = self.run_blocks(self.tokens(img))
        last = visual.transformer.resblocks[-1]
        v = self._value_path(last, x)
        if self.keep_last_residual:
            x = x + v
            x = x + last.ls_2(last.mlp(last.ln_2(x)))
        else:
            x = v
        x = visual.ln_post(x[:, 1:])
        x = x @ visual.proj
        return x.transpose(1, 2).reshape(x.shape[0], -1, h, w)

    def extra_repr(self) -> str:
        return (f'arch={self.arch!r}, pretrained={self.pretrained!r}, '
                f'keep_last_residual={self.keep_last_residual}, out_channels={self.out_channels}, '
                f'patch_size={self.patch_size}')
