# LIIF baseline (paper Tab. 1/2, row LIIF): no semantics at all, AIR over Z_app only.
_base_ = ['../sair_ade20k.py']
model = dict(sir=None)
