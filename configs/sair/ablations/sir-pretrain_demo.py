# Two-stage training on the demo data, stage 1: the SIR alone (semantic loss only). Stage 2 is
# sair-2stage_demo.py, which loads this run's sir.* weights and freezes them.
#
#   python tools/train.py configs/sair/ablations/sir-pretrain_demo.py
_base_ = ['../sair_demo.py']
model = dict(_delete_=True, type='SIRPretrainer', sir={{_base_.model.sir}})
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
