# Two-stage training, stage 2: SAIR with the SIR of stage 1 (sir-pretrain_ade20k.py) loaded and
# frozen; only the appearance encoder and AIR train (no semantic loss).
_base_ = ['../sair_ade20k.py']
sir_checkpoint = 'work_dirs/sir-pretrain_ade20k/iter_252800.pth'  # or --cfg-options sir_checkpoint=...
model = dict(sir=dict(frozen=True,
                      init_cfg=dict(type='Pretrained', checkpoint=sir_checkpoint, prefix='sir.')))
