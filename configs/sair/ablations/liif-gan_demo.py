# LIIF trained adversarially on the demo data: sair-gan_demo.py's objective, optimizers and
# schedule exactly, with a generator without semantics (liif_demo.py's model: sir=None).
_base_ = ['./sair-gan_demo.py']
model = dict(generator=dict(sir=None))
