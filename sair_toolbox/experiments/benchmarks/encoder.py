"""Encoder suite: the frozen MaskCLIP encoder's transformer blocks, open_clip's against batch-first.

``MaskCLIPEncoder`` runs the blocks before its last one batch-first
(:meth:`~sair_toolbox.models.semantic_encoders.maskclip.MaskCLIPEncoder._block`) when no
gradient is recorded, instead of calling open_clip's blocks, whose ``nn.MultiheadAttention``
projects a transposed view of the tokens; without autograd and outside its fused path (off
under autocast) that projection copies the weight once per token. This suite times
:meth:`~sair_toolbox.models.semantic_encoders.maskclip.MaskCLIPEncoder.run_blocks` both ways on
the paper's encoder (ViT-B/16, random weights, nothing read from disk) at S x S, batch B, in
float32 and under bfloat16 autocast, without gradients (how SAIR uses it), on the tokens the
encoder itself makes (:meth:`~sair_toolbox.models.semantic_encoders.maskclip.MaskCLIPEncoder.
tokens`: in bfloat16 under autocast), and prints the median times, their ratio and the largest
difference of the outputs.
"""
import warnings
from typing import Dict

import torch

from sair_toolbox.experiments.benchmarks.common import median_time

#: The demo CLIP's architecture (``configs/sair/sair_demo.py``), for ``--quick``.
QUICK_CLIP = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=64, layers=2, width=96, patch_size=4, head_width=32),
    text_cfg=dict(context_length=16, vocab_size=49408, width=64, heads=2, layers=2),
)


def encoder_benchmark(size: int, repeat: int, *, batch: int = 2, quick: bool = False,
                      seed: int = 0) -> Dict[str, Dict[str, float]]:
    """Print the encoder blocks' times, open_clip's and batch-first, per precision.

    Args:
        size: input side S (a multiple of the patch size: 16, or 4 with ``quick``).
        repeat: timed runs per case (median).
        batch: images per call (the slow path needs >= 2).
        quick: the demo CLIP's small ViT at 64 x 64 instead of ViT-B/16.
        seed: seed of the random weights and images.

    Returns:
        ``{precision: {'open_clip': s, 'batch_first': s, 'ratio', 'max_diff'}}``.
    """
    from sair_toolbox.models.semantic_encoders.maskclip import MaskCLIPEncoder
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random init
        enc = (MaskCLIPEncoder(pretrained=None, model_cfg=QUICK_CLIP) if quick else
               MaskCLIPEncoder(arch='ViT-B-16', pretrained=None))
    size = 64 if quick else size
    tokens = 1 + (size // enc.patch_size) ** 2
    img = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))
    print(f'\nfrozen MaskCLIP encoder blocks ({"demo CLIP" if quick else "ViT-B/16"}, '
          f'{len(enc.visual.transformer.resblocks) - 1} blocks before the last, {size} x {size}, '
          f'batch {batch}, {tokens} tokens; torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads; median of {repeat}; no gradients; the tokens '
          'as the encoder makes them, in the autocast dtype under autocast)')
    header = f'{"precision":<10} {"open_clip":>11} {"batch-first":>12} {"ratio":>7} ' \
             f'{"max|diff|":>10}'
    print(header)
    print('-' * len(header))
    result = {}
    for precision, autocast in (('fp32', False), ('bf16', True)):
        with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
            x = enc.tokens(img)

        def run(open_clip_blocks, autocast=autocast, x=x):
            with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16,
                                                 enabled=autocast):
                return enc.run_blocks(x, open_clip_blocks=open_clip_blocks)
        run(True), run(False)  # warm-up
        ref_s, ref = median_time(lambda: run(True), repeat)
        fast_s, fast = median_time(lambda: run(False), repeat)
        diff = float((ref.float() - fast.float()).abs().max())
        result[precision] = dict(open_clip=ref_s, batch_first=fast_s, ratio=fast_s / ref_s,
                                 max_diff=diff)
        print(f'{precision:<10} {ref_s * 1e3:>8.1f} ms {fast_s * 1e3:>9.1f} ms '
              f'{fast_s / ref_s:>6.2f}x {diff:>10.1e}', flush=True)
    return result
