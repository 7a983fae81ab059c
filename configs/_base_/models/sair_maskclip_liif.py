# SAIR as in the paper: MaskCLIP (open_clip ViT-B/16, OpenAI weights) + LIIF SIR, the Tab. 3
# appearance CNN + LIIF AIR over [Z_app, S]; L = L1 + alpha * L2.
model = dict(
    type='SAIR',
    appearance_encoder=dict(type='AppearanceCNN', base_channels=64, num_res_blocks=8),
    sir=dict(
        encoder=dict(type='MaskCLIPEncoder', arch='ViT-B-16', pretrained='openai'),
        head=dict(type='LIIFHead', hidden_channels=(256, 256, 256)),
    ),
    air_head=dict(type='LIIFHead', hidden_channels=(256, 256, 256)),
    # alpha: not given in the paper.
    sem_loss_weight=1.0,
    # None = every pixel is a query (the whole-image L1 of the paper).
    num_queries=None,
    hole_query_ratio=None,
)
