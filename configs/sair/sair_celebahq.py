# SAIR on CelebA-HQ with the paper's settings (Sec. 4.4, Tab. 1): MaskCLIP ViT-B/16 (OpenAI
# weights) + LIIF SIR, the Tab. 3 appearance CNN + LIIF AIR, Adam 1e-4 halved after 100 of 200
# epochs, batch 16 (2 GPUs x 8), 256 x 256, the irregular masks of Liu et al. 2018.
#
#   bash tools/dist_train.sh configs/sair/sair_celebahq.py 2
#   python tools/test.py configs/sair/sair_celebahq.py work_dirs/sair_celebahq/iter_312600.pth
#
# Data and weights are configurable; a path variable (data_root, mask_root, mask_list_dir) reaches
# every dataloader built from it (sair_toolbox/utils/config.py), e.g.
#   --cfg-options data_root=/data/CelebAMask-HQ model.sir.encoder.pretrained=/ckpt/clip.bin
#   --cfg-options mask_root=/data/masks/test_mask mask_list_dir=/data/masks/lists
_base_ = [
    '../_base_/models/sair_maskclip_liif.py',
    '../_base_/datasets/celebahq.py',
    '../_base_/schedules/schedule_200e_celebahq.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=8, num_workers=8)  # per GPU; 2 GPUs = the paper's 16
val_dataloader = dict(batch_size=8, num_workers=4)
test_dataloader = val_dataloader

val_evaluator = dict(type='InpaintingMetric', lpips='vgg')
test_evaluator = val_evaluator

default_hooks = dict(checkpoint=dict(interval=10 * 1563))
