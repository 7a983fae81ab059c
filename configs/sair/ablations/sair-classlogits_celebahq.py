# Semantic fusion seen in the authors' release (not the paper's default): AIR gets the class
# logits of the SIR field against CLIP text embeddings of the dataset's class names instead of
# the field itself.
_base_ = ['../sair_celebahq.py']
model = dict(fusion=dict(type='ClassLogitFusion', class_names='CelebAHQDataset',
                         text_embedder=dict(arch='ViT-B-16', pretrained='openai')))
