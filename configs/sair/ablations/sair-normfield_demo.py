# SAIR on the demo data with the SIR field L2-normalised per pixel and scaled by one learned gain
# before AIR (NormalizedFusion), an option against a field that swamps the appearance features;
# the paper concatenates the field as is.
_base_ = ['../sair_demo.py']
model = dict(fusion=dict(type='NormalizedFusion'))
