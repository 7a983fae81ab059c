# SAM encoder instead of MaskCLIP on the demo data (Tab. 6): segment-anything's ImageEncoderViT at
# demo size, pretrained class-agnostically on other demo scenes (region boundaries and same-region
# affinity, no class names; DemoSAMWeights, under a minute on first use, cached in data/demo_sam/)
# and loaded through SAMEncoder's normal checkpoint path. Same feature grid (16 x 16) and width
# (64) as the demo CLIP; SIR and AIR adapt to its out_channels. No text tower: the segmentation
# check (Tab. 5) and text-guided fill do not apply.
_base_ = ['../sair_demo.py']

# 64 x 64 images, patch 4, 2 blocks (block 0 windowed 8 x 8, block 1 global), 64 channels out.
demo_sam = dict(embed_dim=64, depth=2, num_heads=2, global_attn_indexes=(1, ), window_size=8,
                mlp_ratio=4.0, out_chans=64, patch_size=4)
# Pretrained on first use (seeded, deterministic); see DemoSAMWeights for the recipe's options.
demo_sam_weights = dict(type='DemoSAMWeights', cache_dir='data/demo_sam')
model = dict(sir=dict(encoder=dict(_delete_=True, type='SAMEncoder', arch='vit_b', img_size=64,
                                   model_cfg=demo_sam, checkpoint=demo_sam_weights)))
