# A tiny iteration-based config around tests/test_engine/toy_components.py, shaped like the real
# configs (default_scope, InfiniteSampler, CheckpointHook by iteration, RNGStateHook), so the
# engine and tool tests run in seconds.
custom_imports = dict(imports=['tests.test_engine.toy_components'], allow_failed_imports=False)
default_scope = 'sair_toolbox'

model = dict(type='ToyInpaintModel', channels=8, num_queries=32)

data_root = '{{ fileDirname }}'
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='ToyInpaintDataset', data_root=data_root, num_samples=8, size=16))
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='ToyInpaintDataset', data_root=data_root, num_samples=4, size=16, seed=1,
                 test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='InpaintingMetric', lpips=None)  # no LPIPS weights offline
test_evaluator = val_evaluator

train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-2, betas=(0.9, 0.999)))
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[3], gamma=0.5)]

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='RNGStateHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
log_level = 'WARNING'
load_from = None
resume = False
