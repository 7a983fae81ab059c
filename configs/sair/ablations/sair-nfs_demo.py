# NFS on the demo data (Tab. 6): the masked image's encoder features, bilinearly resized, feed AIR;
# no SIR, nothing is filled in.
_base_ = ['../sair_demo.py']
model = dict(sir=dict(head=None))
