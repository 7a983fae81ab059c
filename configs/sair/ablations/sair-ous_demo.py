# OUS on the demo data (Tab. 6): AIR over the SIR field only, no appearance features.
_base_ = ['../sair_demo.py']
model = dict(appearance_encoder=None)
