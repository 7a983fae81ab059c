# Paper Sec. 4.4 on ADE20K: Adam(0.9, 0.999), lr 1e-4 halved every 100 epochs, 200 epochs,
# batch 16. One epoch of ADE20K training (20,210 images) at batch 16 is 1,264 iterations.
_base_ = ['./schedule_200e_celebahq.py']
iters_per_epoch = 1264
train_cfg = dict(max_iters=200 * iters_per_epoch, val_interval=10 * iters_per_epoch)
param_scheduler = dict(milestones=[100 * iters_per_epoch])
