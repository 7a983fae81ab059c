# SAIR trained adversarially on ADE20K (issue: sharp fills): the paper's SAIR is the generator,
# unchanged, with the paper's L1 + alpha L2; the objective adds a non-saturating GAN loss against
# a mask-aware two-scale PatchGAN, feature matching, R1 on the reals and a perceptual loss on the
# frozen MaskCLIP ViT-B/16 (a dense, high-receptive-field network, as LaMa's perceptual loss uses
# a segmentation network). liif-gan_ade20k.py is the same objective without semantics.
# Evaluation adds FID, KID, P-IDS and U-IDS (torch-fidelity's FID Inception from a local file,
# weights-inception-2015-12-05-6726825d.pth, by default in torch hub's checkpoints folder; else
#   --cfg-options val_evaluator.1.feature_net.weights_path=/ckpt/ and the same for test_evaluator).
# Loss weights: a plausible starting point, not tuned.
_base_ = ['../sair_ade20k.py']

model = dict(
    _delete_=True,
    type='InpaintGAN',
    generator={{_base_.model}},
    generator_loss_weight=1.0,
    discriminator=dict(type='MultiScaleDiscriminator', num_scales=2,
                       discriminator=dict(type='PatchDiscriminator', base_channels=64,
                                          num_layers=3)),
    adversarial_loss=dict(type='AdversarialLoss', gan_type='nonsaturating', loss_weight=0.05),
    feature_matching_loss=dict(type='FeatureMatchingLoss', loss_weight=0.5),
    r1_penalty=dict(type='R1Penalty', loss_weight=0.05),
    perceptual_loss=dict(type='PerceptualLoss', feature_net={{_base_.model.sir.encoder}},
                         loss_weight=0.5),
    disc_input='composite',
)
# Both networks at the precision that fits the device (AutocastOptimWrapper, dtype='auto').
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    generator=dict(type='AutocastOptimWrapper',
                   optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999))),
    discriminator=dict(type='AutocastOptimWrapper',
                       optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999))),
)
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel', broadcast_buffers=False,
                         find_unused_parameters=True)

val_evaluator = [
    dict(type='InpaintingMetric', lpips='vgg'),
    dict(type='DistributionMetric', feature_net=dict(type='InceptionV3', weights_path=None)),
]
test_evaluator = val_evaluator
