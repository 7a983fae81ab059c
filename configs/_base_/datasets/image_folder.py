# Any folder of images (recursive; jpg/jpeg/png/bmp/webp/tif), e.g. for training or evaluating on
# your own photos. Masks: procedural by default; set `mask_dir` and use `paired_test_pipeline` for
# masks paired with the images by file name, or LoadMask(mask_root=...) for a seeded choice from
# a mask folder (see configs/_base_/datasets/celebahq.py).
dataset_type = 'ImageFolderDataset'
train_root = 'data/images/train'
test_root = 'data/images/test'
mask_dir = None  # e.g. 'data/images/test_masks' (same file names as the images)
img_size = 256
mask_polarity = 'white_is_hole'
mask_threshold = 0.5
mask_bins = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6)]
# Evaluation masks depend on (mask_seed, sample index) only: the same on every run and rank.
mask_seed = 0
# Seed of the datasets' private RNG stream (training masks, crops and flips; exact resume).
data_seed = 0

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='Resize', size=img_size, keep_ratio=True, interpolation='bicubic'),
    dict(type='RandomCrop', size=img_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='GenerateMask', bins=mask_bins),
    dict(type='PackInpaintInputs', bins=mask_bins),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='Resize', size=img_size, keep_ratio=True, interpolation='bicubic'),
    dict(type='CenterCrop', size=img_size),
    dict(type='GenerateMask', bins=mask_bins),  # image i: bin i % 3, fixed by (mask_seed, i)
    dict(type='PackInpaintInputs', bins=mask_bins),
]
# With mask_dir: the paired mask is loaded at the original image size, before the geometric
# transforms, so that it stays aligned with the image.
paired_test_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadMask', polarity=mask_polarity, threshold=mask_threshold),
    dict(type='Resize', size=img_size, keep_ratio=True, interpolation='bicubic'),
    dict(type='CenterCrop', size=img_size),
    dict(type='PackInpaintInputs', bins=mask_bins),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=train_root, data_seed=data_seed,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=test_root, mask_dir=mask_dir, test_mode=True,
                 mask_seed=mask_seed, data_seed=data_seed,
                 pipeline=test_pipeline if mask_dir is None else paired_test_pipeline))
test_dataloader = val_dataloader
