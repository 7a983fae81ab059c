# Embedded demo data: procedural landscapes with per-pixel labels (11 classes), generated into
# `data_root` on first use (or by tools/make_demo_data.py). Offline, deterministic, CPU-friendly.
dataset_type = 'DemoDataset'
data_root = 'data/demo'
img_size = 64
num_train = 400
num_val = 40
# Masks: procedural free-form strokes + boxes, hitting these hole-ratio bins.
mask_bins = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6)]
# Evaluation masks depend on (mask_seed, sample index) only: the same on every run and rank.
mask_seed = 0
# Seed of the datasets' private RNG stream (training masks and flips; exact resume).
data_seed = 0

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadLabelMap'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='GenerateMask', bins=mask_bins),  # a random bin and mask per draw
    dict(type='PackInpaintInputs', bins=mask_bins),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadLabelMap'),
    dict(type='GenerateMask', bins=mask_bins),  # image i: bin i % 3, fixed by (mask_seed, i)
    dict(type='PackInpaintInputs', bins=mask_bins),
]

_demo_args = dict(type=dataset_type, data_root=data_root, image_size=img_size,
                  num_train=num_train, num_val=num_val, mask_seed=mask_seed, data_seed=data_seed)
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**_demo_args, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_demo_args, split='val', test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
