# LIIF trained adversarially on ADE20K: sair-gan_ade20k.py's objective, optimizers, schedule and
# metrics exactly, with a generator without semantics (liif_ade20k.py's model: sir=None). The
# perceptual loss keeps its MaskCLIP network: the objective is the same for both.
_base_ = ['./sair-gan_ade20k.py']
model = dict(generator=dict(sir=None))
