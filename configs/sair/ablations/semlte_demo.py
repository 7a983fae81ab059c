# SemLTE on the demo data (Tab. 4): SAIR with LTEHead as AIR, at the demo's MLP width.
_base_ = ['../sair_demo.py']
model = dict(air_head=dict(_delete_=True, type='LTEHead', hidden_channels=128,
                           mlp_hidden=(128, 128, 128)))
