# The knowledge-gap demo world (issue 25): objects of 60 categories told apart by silhouette,
# part layout and inner pattern, never by colour (one palette shared by all categories). The
# inpainter's train split shows only the 25 seen categories; val alternates images of seen and
# unseen categories (each sample's `category_group`); the encoder-pretraining scenes (all
# categories) are read with sair_toolbox.datasets.knowledge_scenes.KnowledgeEncoderScenes.
# Generated into `data_root` on first use. Offline, deterministic, CPU-friendly.
dataset_type = 'DemoDataset'
world = 'knowledge'
data_root = 'data/demo_knowledge'
img_size = 64
num_train = 25  # inpainter scenes (the experiment's axis: e.g. 25 and 400)
num_val = 120
num_categories = 60
num_seen = 25
num_encoder = 2000  # encoder-pretraining scenes (the experiment's axis: e.g. 2000 and 20000)
mask_bins = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6)]
mask_seed = 0
data_seed = 0
meta_keys = ('img_path', 'ori_shape', 'img_shape', 'sample_idx', 'mask_source', 'flip',
             'category_group', 'categories')

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadLabelMap'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='GenerateMask', bins=mask_bins),
    dict(type='PackInpaintInputs', bins=mask_bins, meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadLabelMap'),
    dict(type='GenerateMask', bins=mask_bins),
    dict(type='PackInpaintInputs', bins=mask_bins, meta_keys=meta_keys),
]

_demo_args = dict(type=dataset_type, world=world, data_root=data_root, image_size=img_size,
                  num_train=num_train, num_val=num_val, num_categories=num_categories,
                  num_seen=num_seen, num_encoder=num_encoder, mask_seed=mask_seed,
                  data_seed=data_seed)
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
