train_root = 'data/images/train'  # your training photos (any folder tree of jpg/png/bmp/webp/tif)
test_root = 'data/images/test'  # validation / test photos
# SAIR (the paper's model: MaskCLIP ViT-B/16 with OpenAI weights + LIIF SIR, Tab. 3 appearance CNN
# + LIIF AIR) on folders of your own photos: resized (shorter side) and cropped to 256 x 256,
# procedural free-form + box masks in the three ratio bins (fixed per image for validation).
# Edit the two lines above, or point them elsewhere from the command line:
#
#   python tools/train.py configs/sair/sair_image_folder.py \
#       --cfg-options train_root=/photos/train test_root=/photos/test
#   python tools/test.py configs/sair/sair_image_folder.py \
#       work_dirs/sair_image_folder/iter_100000.pth
#   python tools/test.py configs/sair/sair_image_folder.py CKPT --img-dir DIR --mask-dir MASKS
#
# CLIP weights must be on disk (open_clip's cache, or model.sir.encoder.pretrained=/path/to.bin).
# Schedule: the paper's optimiser (Adam 1e-4, halved at half time), by iteration since folder
# sizes vary, e.g. --cfg-options train_cfg.max_iters=20000 param_scheduler.milestones=[10000].
_base_ = [
    '../_base_/models/sair_maskclip_liif.py',
    '../_base_/datasets/image_folder.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=8, num_workers=4, dataset=dict(data_root=train_root))
val_dataloader = dict(batch_size=8, num_workers=4, dataset=dict(data_root=test_root))
test_dataloader = val_dataloader

# LPIPS needs the VGG ImageNet weights on disk (see sair_toolbox/evaluation/lpips_loader.py);
# set lpips='vgg' once they are there.
val_evaluator = dict(type='InpaintingMetric', lpips=None)
test_evaluator = val_evaluator

max_iters = 100000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# Precision that fits the device (dtype='auto'; tools/train.py --precision forces one).
optim_wrapper = dict(type='AutocastOptimWrapper',
                     optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999)))
param_scheduler = dict(type='MultiStepLR', by_epoch=False, gamma=0.5,
                       milestones=[max_iters // 2])
auto_scale_lr = dict(enable=False, base_batch_size=16)

default_hooks = dict(checkpoint=dict(interval=5000))
