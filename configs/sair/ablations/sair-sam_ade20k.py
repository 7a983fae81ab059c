# SAM encoder instead of MaskCLIP (paper Tab. 6): segment-anything's ViT-B image encoder
# (256 channels; SIR and AIR adapt to its out_channels). Put the checkpoint at
# checkpoints/sam_vit_b_01ec64.pth or pass --cfg-options model.sir.encoder.checkpoint=PATH.
_base_ = ['../sair_ade20k.py']
model = dict(sir=dict(encoder=dict(_delete_=True, type='SAMEncoder', arch='vit_b',
                                   checkpoint='checkpoints/sam_vit_b_01ec64.pth')))
