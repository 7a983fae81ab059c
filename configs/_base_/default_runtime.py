default_scope = 'sair_toolbox'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
# Saves and restores the RNG states with each checkpoint so that a resumed run continues exactly
# like a straight one.
custom_hooks = [dict(type='RNGStateHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
log_processor = dict(type='LogProcessor', by_epoch=False, window_size=50)
log_level = 'INFO'
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
