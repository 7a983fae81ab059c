"""A tiny open_clip CLIP with random (non-default) weights saved to disk, for offline tests."""
import copy

import torch

#: 32x32 images, patch 8 (native grid 4x4), 2 blocks, width 64, 4 heads.
TINY_CLIP = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=32, layers=2, width=64, patch_size=8, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=4, layers=2),
)


def save_tiny_clip(folder, seed: int, model_cfg: dict = TINY_CLIP):
    """Build a CLIP of ``model_cfg``, perturb every weight (seeded), save its state dict.

    Returns:
        (path of ``folder/tiny_clip.bin`` as str, the model in eval mode).
    """
    from open_clip.model import CLIP
    model = CLIP(**copy.deepcopy(model_cfg))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    path = folder / 'tiny_clip.bin'
    torch.save(model.state_dict(), path)
    return str(path), model.eval()
