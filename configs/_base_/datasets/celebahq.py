# CelebA-HQ with the CelebAMask-HQ layout (see sair_toolbox/datasets/celebahq_dataset.py):
#   data/celebahq/CelebA-HQ-img/{idx}.jpg, CelebAMask-HQ-mask-anno/{0..14}/{idx:05d}_{part}.png,
#   train.txt / test.txt (25,000 / 5,000 image names, one per line).
# Masks: the irregular masks of Liu et al. 2018 (white = hole), sorted into ratio bins once with
#   python tools/sort_masks.py data/irregular_masks/test_mask data/irregular_masks/lists
dataset_type = 'CelebAHQDataset'
data_root = 'data/celebahq'
img_size = 256
mask_root = 'data/irregular_masks/test_mask'
mask_list_dir = 'data/irregular_masks/lists'  # None: measure every mask on first use (slow)
mask_polarity = 'white_is_hole'  # 'black_is_hole' for mirrors that store inverted masks
mask_threshold = 0.5
mask_bins = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6)]
# Evaluation masks depend on (mask_seed, sample index) only: the same on every run and rank;
# image i gets a mask of bin i % 3.
mask_seed = 0
# Seed of the datasets' private RNG stream (training masks and flips; exact resume).
data_seed = 0

_mask_files = dict(type='LoadMask', mask_root=mask_root, list_files=mask_list_dir,
                   bins=mask_bins, polarity=mask_polarity, threshold=mask_threshold,
                   ratio_size=img_size)
# Without mask files use procedural masks instead:
#   train_mask = dict(type='GenerateMask', bins=mask_bins)  (and the same for test_mask)
train_mask = dict(_mask_files, balanced=False)  # a random mask from the whole set per draw
test_mask = dict(_mask_files, balanced=True)  # image i: bin i % 3

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='Resize', size=img_size, interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    train_mask,
    dict(type='PackInpaintInputs', bins=mask_bins),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadLabelMap'),  # only if labels exist (segmentation check); else skipped
    dict(type='Resize', size=img_size, interpolation='bicubic'),
    test_mask,
    dict(type='PackInpaintInputs', bins=mask_bins),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='train.txt', with_label=False,
                 data_seed=data_seed, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='test.txt', test_mode=True,
                 mask_seed=mask_seed, data_seed=data_seed, pipeline=test_pipeline))
test_dataloader = val_dataloader
