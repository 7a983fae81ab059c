# OUS (paper Tab. 6): only semantics, AIR over the SIR field S alone (no appearance features).
_base_ = ['../sair_celebahq.py']
model = dict(appearance_encoder=None)
