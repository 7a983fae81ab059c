# LTE (paper Tab. 4): the local texture estimator as the appearance implicit function, no
# semantics.
_base_ = ['../sair_ade20k.py']
model = dict(sir=None, air_head=dict(_delete_=True, type='LTEHead'))
