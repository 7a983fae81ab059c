# SAIR on the embedded demo data (procedural scenes with per-pixel labels, generated offline on
# first use into data/demo): the full pipeline -- frozen MaskCLIP-style encoder, SIR, appearance
# CNN, AIR -- scaled down to train on 2 CPU cores in about 5 minutes, pretraining included.
#
#   python tools/train.py configs/sair/sair_demo.py
#   python tools/test.py configs/sair/sair_demo.py work_dirs/sair_demo/iter_600.pth
#   python tools/seg_eval.py configs/sair/sair_demo.py work_dirs/sair_demo/iter_600.pth
#
# No CLIP weights can be downloaded here, so the demo world brings its own: a small open_clip CLIP
# (`demo_clip`, image and text towers) pretrained offline on other demo scenes so that MaskCLIP's
# dense features match the text embeddings of the class prompts (DemoCLIPWeights, about 1 minute
# on first use, cached in data/demo_clip/ next to the data; `tools/make_demo_data.py --clip` builds
# it ahead). It is loaded as an ordinary open_clip checkpoint, the path real weights take; with
# CLIP weights on disk use
#   sir.encoder=dict(type='MaskCLIPEncoder', arch='ViT-B-16', pretrained='openai').
_base_ = [
    '../_base_/models/sair_maskclip_liif.py',
    '../_base_/datasets/demo.py',
    '../_base_/default_runtime.py',
]

# 64 x 64 images, patch 4 (a 16 x 16 feature grid), 2 blocks; prompts fit in 16 tokens.
demo_clip = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=64, layers=2, width=96, patch_size=4, head_width=32),
    text_cfg=dict(context_length=16, vocab_size=49408, width=64, heads=2, layers=2),
)
# Pretrained on first use (seeded, deterministic); see DemoCLIPWeights for the recipe's options.
demo_clip_weights = dict(type='DemoCLIPWeights', cache_dir='data/demo_clip')
model = dict(
    appearance_encoder=dict(base_channels=32, num_res_blocks=2),
    sir=dict(
        encoder=dict(type='MaskCLIPEncoder', arch='ViT-B-16', model_cfg=demo_clip,
                     pretrained=dict(_delete_=True, **demo_clip_weights)),
        # One hidden layer fewer than AIR (3 Linear layers, not the paper's 4): SIR runs at 4
        # neighbours x every pixel, the largest cost of a demo step (0.59 -> 0.51 s measured).
        head=dict(hidden_channels=(128, 128)),
    ),
    air_head=dict(hidden_channels=(128, 128, 128)),
    num_queries=2048,
    hole_query_ratio=0.5,
)

train_dataloader = dict(batch_size=8, num_workers=2)
val_dataloader = dict(batch_size=8, num_workers=2)
test_dataloader = val_dataloader

# LPIPS needs ImageNet backbone weights, which cannot be downloaded here: the demo reports PSNR,
# SSIM and L1, plus the same metrics of the masked input for comparison.
val_evaluator = dict(type='InpaintingMetric', lpips=None, report_input=True)
test_evaluator = val_evaluator

max_iters = 600
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=300)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# Precision that fits the device (AutocastOptimWrapper, dtype='auto'; the choice and its reason
# are logged when training starts): bfloat16 autocast where the CPU's oneDNN has native bfloat16
# kernels (AVX512-BF16 / AMX class: 0.58x the float32 step on 2 cores, 0.50 -> 0.29 s back to back
# in the Runner), plain float32 where it has not (AVX2 only: bfloat16 would be ~10x slower, 8.8 s
# vs 0.80 s per step); on CUDA bfloat16, or float16 with loss scaling. Force one with
#   python tools/train.py configs/sair/sair_demo.py --precision fp32|bf16|fp16
# (`python tools/benchmark.py --suite precision` times both on the machine at hand). Validation
# during training runs in float32; tools/test.py and the inferencer default to auto as well.
optim_wrapper = dict(type='AutocastOptimWrapper',  # dtype='auto' by default
                     optimizer=dict(type='Adam', lr=5e-4, betas=(0.9, 0.999)))
param_scheduler = dict(type='MultiStepLR', by_epoch=False, milestones=[450], gamma=0.5)

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=300, max_keep_ckpts=2),
)

# Text-guided fill (SAIRInferencer, tools/inpaint.py --text, the web demo): the SIR field in the
# hole is steered to the class's text embedding, scaled to the field's own per-pixel norm
# (see sair_toolbox/models/field_edits.py; 'region_norm' and 'unit' are the alternatives).
text_guidance = dict(strength=1.0, scale='match_norm')
