# SAIR on the embedded demo data (procedural scenes with per-pixel labels, generated offline on
# first use into data/demo): the full pipeline -- frozen MaskCLIP-style encoder, SIR, appearance
# CNN, AIR -- scaled down to train on 2 CPU cores in about 5 minutes.
#
#   python tools/train.py configs/sair/sair_demo.py
#   python tools/test.py configs/sair/sair_demo.py work_dirs/sair_demo/iter_600.pth
#
# No pretrained weights are available offline, so the ViT is a small randomly initialised open_clip
# model (a loud warning says so). With CLIP weights on disk use
#   sir.encoder=dict(type='MaskCLIPEncoder', arch='ViT-B-16', pretrained='openai').
_base_ = [
    '../_base_/models/sair_maskclip_liif.py',
    '../_base_/datasets/demo.py',
    '../_base_/default_runtime.py',
]

demo_clip = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=64, layers=2, width=96, patch_size=8, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=2),
)
model = dict(
    appearance_encoder=dict(base_channels=32, num_res_blocks=2),
    sir=dict(
        encoder=dict(type='MaskCLIPEncoder', arch='ViT-B-16', pretrained=None,
                     model_cfg=demo_clip),
        head=dict(hidden_channels=(128, 128, 128)),
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
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=5e-4, betas=(0.9, 0.999)))
param_scheduler = dict(type='MultiStepLR', by_epoch=False, milestones=[450], gamma=0.5)

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=300, max_keep_ckpts=2),
)
