# LIIF trained adversarially on CelebA-HQ: sair-gan_celebahq.py's objective, optimizers, schedule
# and metrics exactly, with a generator without semantics (liif_celebahq.py's model: sir=None). The
# perceptual loss keeps its MaskCLIP network: the objective is the same for both.
_base_ = ['./sair-gan_celebahq.py']
model = dict(generator=dict(sir=None))
