# EDSR(wo) (paper Tab. 4): LIIF's EDSR-baseline appearance encoder, no semantics.
_base_ = ['../sair_ade20k.py']
model = dict(appearance_encoder=dict(_delete_=True, type='EDSREncoder'), sir=None)
