# LIIF with LIIF's EDSR-baseline encoder (no semantics) on the demo data (Tab. 4), at the demo's
# width (32 channels, like the demo AppearanceCNN's base) and 4 residual blocks.
_base_ = ['../sair_demo.py']
model = dict(appearance_encoder=dict(_delete_=True, type='EDSREncoder', channels=32, num_blocks=4),
             sir=None)
