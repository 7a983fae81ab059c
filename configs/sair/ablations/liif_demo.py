# LIIF (no semantics) on the demo data: AIR over the appearance features only (Tab. 1's LIIF row).
_base_ = ['../sair_demo.py']
model = dict(sir=None)
