# EDSR(w) (paper Tab. 4): LIIF's EDSR-baseline appearance encoder with semantics (SIR).
_base_ = ['../sair_ade20k.py']
model = dict(appearance_encoder=dict(_delete_=True, type='EDSREncoder'))
