default_scope = 'sair_toolbox'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # Validation metrics logged at the iteration (MMEngine's default logs them at the epoch, 0
    # in iteration-based loops), so scalars.json curves have the right x (tools/plot_curves.py).
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
# RNGStateHook saves and restores the RNG states with each checkpoint so that a resumed run
# continues exactly like a straight one. InpaintVisualizationHook draws 4 fixed val samples
# (masked | output | ground truth | class maps without / with SIR) after every validation into
# the visualizer's backends (<work_dir>/<timestamp>/vis_data/vis_image/val_samples_<iter>.png).
custom_hooks = [dict(type='RNGStateHook'), dict(type='InpaintVisualizationHook', num_samples=4)]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
log_processor = dict(type='LogProcessor', by_epoch=False, window_size=50)
log_level = 'INFO'
# Add dict(type='TensorboardVisBackend') (pip install tensorboard) for TensorBoard.
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
