# LTE (no semantics) on the demo data (Tab. 4): LTEHead as AIR, at the demo's MLP width.
_base_ = ['../sair_demo.py']
model = dict(sir=None, air_head=dict(_delete_=True, type='LTEHead', hidden_channels=128,
                                     mlp_hidden=(128, 128, 128)))
