# NFS (paper Tab. 6): semantic features are not filled. The masked Z_sem is bilinearly resized
# to H x W and fed to AIR; there is no SIR head and no semantic loss.
_base_ = ['../sair_celebahq.py']
model = dict(sir=dict(head=None))
