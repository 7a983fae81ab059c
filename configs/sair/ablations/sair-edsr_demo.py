# SAIR with the EDSR-baseline appearance encoder on the demo data (Tab. 4); see edsr-liif_demo.py.
_base_ = ['../sair_demo.py']
model = dict(appearance_encoder=dict(_delete_=True, type='EDSREncoder', channels=32, num_blocks=4))
