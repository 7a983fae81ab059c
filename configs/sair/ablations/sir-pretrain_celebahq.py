# Two-stage training, stage 1 (an option seen in the authors' release; the paper trains jointly):
# the SIR alone, with the semantic loss |SIR(grid centres) - Z_sem(I)|_1. Stage 2 is
# sair-2stage_celebahq.py, which loads this run's sir.* weights and freezes them.
_base_ = ['../sair_celebahq.py']
model = dict(_delete_=True, type='SIRPretrainer', sir={{_base_.model.sir}})
# The inpainting metrics do not apply to a semantic-only model.
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
