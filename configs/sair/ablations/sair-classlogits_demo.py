# SAIR on the demo data with the semantic field fed to AIR as per-pixel class scores (cosine
# similarity to the demo CLIP's text embeddings of the 11 class names), the option seen in the
# authors' release; the paper concatenates the field itself.
_base_ = ['../sair_demo.py']
model = dict(fusion=dict(
    type='ClassLogitFusion', class_names='DemoDataset',
    text_embedder=dict(arch='ViT-B-16', pretrained={{_base_.demo_clip_weights}},
                       model_cfg={{_base_.demo_clip}})))
