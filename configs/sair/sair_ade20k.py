# SAIR on ADE20K (paper Tab. 2), same settings as sair_celebahq.py on scenes (150 classes).
#   --cfg-options data_root=/data/ADEChallengeData2016 mask_root=... mask_list_dir=...
_base_ = [
    '../_base_/models/sair_maskclip_liif.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_200e_ade20k.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=8, num_workers=8)  # per GPU; 2 GPUs = the paper's 16
val_dataloader = dict(batch_size=8, num_workers=4)
test_dataloader = val_dataloader

val_evaluator = dict(type='InpaintingMetric', lpips='vgg')
test_evaluator = val_evaluator

default_hooks = dict(checkpoint=dict(interval=10 * 1264))
