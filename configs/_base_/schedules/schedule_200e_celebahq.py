# Paper Sec. 4.4: Adam(0.9, 0.999), lr 1e-4 halved every 100 epochs, 200 epochs, batch 16.
# Iteration-based (InfiniteSampler); one epoch of CelebA-HQ train (25,000 images) at batch 16
# is 1,563 iterations.
iters_per_epoch = 1563
max_epochs = 200
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_epochs * iters_per_epoch,
                 val_interval=10 * iters_per_epoch)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# Precision that fits the device (dtype='auto', logged when training starts): bfloat16 autocast
# on GPUs with bfloat16 and CPUs whose oneDNN has native bfloat16 kernels, float16 with loss
# scaling on older GPUs, else plain float32. tools/train.py --precision fp32|bf16|fp16 forces one.
optim_wrapper = dict(type='AutocastOptimWrapper',
                     optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999)))
param_scheduler = dict(type='MultiStepLR', by_epoch=False, gamma=0.5,
                       milestones=[100 * iters_per_epoch])
# The paper's batch of 16 (2 GPUs x 8); the lr scales linearly with --auto-scale-lr.
auto_scale_lr = dict(enable=False, base_batch_size=16)
