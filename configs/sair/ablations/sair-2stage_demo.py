# Two-stage training on the demo data, stage 2: SAIR with the SIR of sir-pretrain_demo.py loaded
# and frozen (AIR and the appearance encoder train).
#
#   python tools/train.py configs/sair/ablations/sir-pretrain_demo.py
#   python tools/train.py configs/sair/ablations/sair-2stage_demo.py
_base_ = ['../sair_demo.py']
sir_checkpoint = 'work_dirs/sir-pretrain_demo/iter_600.pth'  # or --cfg-options sir_checkpoint=...
model = dict(sir=dict(frozen=True,
                      init_cfg=dict(type='Pretrained', checkpoint=sir_checkpoint, prefix='sir.')))
