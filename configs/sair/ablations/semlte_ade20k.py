# SemLTE (paper Tab. 4): SAIR with the local texture estimator as the appearance implicit
# function; SIR keeps its LIIF head (set model.sir.head=dict(type='LTEHead') to swap it too).
_base_ = ['../sair_ade20k.py']
model = dict(air_head=dict(_delete_=True, type='LTEHead'))
