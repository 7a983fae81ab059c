# SAIR trained adversarially on the demo data (issue: sharp fills): the demo SAIR model is the
# generator, unchanged; the objective adds a non-saturating GAN loss against a mask-aware
# two-scale PatchGAN, discriminator feature matching, an R1 penalty on the reals and a perceptual
# loss on a frozen dense encoder (LaMa's high-receptive-field perceptual loss in spirit), to the
# paper's L1 + alpha L2. liif-gan_demo.py is the same objective without semantics.
#
#   python tools/train.py configs/sair/ablations/sair-gan_demo.py
#
# The loss weights are a plausible starting point, not tuned.
_base_ = ['../sair_demo.py']

# The perceptual network: the demo world's MaskCLIP (the pretrained demo CLIP, dense features),
# the only dense network with meaningful weights offline. With real weights use e.g.
#   dict(type='TorchvisionFeatures', arch='resnet50', layers=('layer1', 'layer2', 'layer3'),
#        weights_path='checkpoints/resnet50-11ad3fa6.pth')
perceptual_net = dict(type='MaskCLIPEncoder', arch='ViT-B-16', model_cfg={{_base_.demo_clip}},
                      pretrained={{_base_.demo_clip_weights}})
model = dict(
    _delete_=True,
    type='InpaintGAN',
    generator={{_base_.model}},
    generator_loss_weight=1.0,
    discriminator=dict(type='MultiScaleDiscriminator', num_scales=2,
                       discriminator=dict(type='PatchDiscriminator', base_channels=32,
                                          num_layers=3)),
    adversarial_loss=dict(type='AdversarialLoss', gan_type='nonsaturating', loss_weight=0.05),
    feature_matching_loss=dict(type='FeatureMatchingLoss', loss_weight=0.5),
    r1_penalty=dict(type='R1Penalty', loss_weight=0.05),
    perceptual_loss=dict(type='PerceptualLoss', feature_net=perceptual_net, loss_weight=0.5),
    disc_input='composite',
)

# One optimizer per network, both at the precision that fits the device (AutocastOptimWrapper,
# dtype='auto') as in the L1 config; the generator's is the L1 config's (so the objective is the
# only difference), the discriminator's uses the usual GAN betas. The MultiStepLR of the base
# config applies to both.
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    generator=dict(type='AutocastOptimWrapper',
                   optimizer=dict(type='Adam', lr=5e-4, betas=(0.9, 0.999))),
    discriminator=dict(type='AutocastOptimWrapper',
                       optimizer=dict(type='Adam', lr=5e-4, betas=(0.5, 0.999))),
)
# Distributed: each network in its own DDP (the discriminator is frozen during generator steps).
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel', broadcast_buffers=False,
                         find_unused_parameters=True)

# Validation and test add the distribution metrics of the demo world: no Inception weights exist
# offline, so a small classifier of class presence and area trained on demo scenes of its own
# seed stream (DemoFeatureNet, about 1 minute on first use, cached in data/demo_feature_net) gives
# "demo-FID", "demo-KID", "demo-P-IDS" and "demo-U-IDS" -- not comparable to Inception numbers.
# With Inception weights use feature_net=dict(type='InceptionV3', weights_path=...), name_prefix=''.
demo_feature_net = dict(type='DemoFeatureNet',
                        pretrained=dict(type='DemoFeatureNetWeights',
                                        cache_dir='data/demo_feature_net'))
val_evaluator = [
    dict(type='InpaintingMetric', lpips=None, report_input=True),
    dict(type='DistributionMetric', feature_net=demo_feature_net, name_prefix='demo-'),
]
test_evaluator = val_evaluator
