"""Scale any config's architecture down to test size, as ``--cfg-options`` overrides would.

Only sizes change (widths, depths, weights -> random init); the composition of the config --
which encoder, which heads, which parts are absent -- stays exactly as written.
"""
import copy

TINY_CLIP = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
)
TINY_SAM = dict(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1, ), window_size=2,
                out_chans=32)

#: Overrides per component type (merged into the component's config).
SHRINK = {
    'MaskCLIPEncoder': dict(pretrained=None, model_cfg=TINY_CLIP),
    'SAMEncoder': dict(checkpoint=None, model_cfg=TINY_SAM),
    'AppearanceCNN': dict(base_channels=8, num_res_blocks=1),
    'EDSREncoder': dict(channels=8, num_blocks=1),
    'LIIFHead': dict(hidden_channels=(16, 16)),
    'LTEHead': dict(hidden_channels=16, mlp_hidden=(16, )),
    'ClassLogitFusion': dict(text_embedder=dict(arch='ViT-B-16', pretrained=None,
                                                model_cfg=TINY_CLIP)),
}


def shrink(cfg):
    """A copy of a (model) config with every known component scaled down."""
    cfg = copy.deepcopy(cfg)

    def visit(node):
        if isinstance(node, dict):
            node.pop('init_cfg', None)  # e.g. a stage-1 checkpoint that a test does not have
            if node.get('type') in SHRINK:
                node.update(copy.deepcopy(SHRINK[node['type']]))
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg)
    return cfg


def demo_data_options(work_dir, data_root, iters=2):
    """``--cfg-options``-style overrides that train any config on the demo data for a few
    iterations without validation."""
    pipeline = [
        dict(type='LoadImage'),
        dict(type='Resize', size=32),
        dict(type='GenerateMask'),
        dict(type='PackInpaintInputs'),
    ]
    dataset = dict(_delete_=True, type='DemoDataset', data_root=str(data_root), split='train',
                   image_size=32, num_train=8, num_val=4, pipeline=pipeline)
    return {
        'work_dir': str(work_dir),
        'train_dataloader': dict(batch_size=2, num_workers=0, persistent_workers=False,
                                 dataset=dataset),
        'train_cfg': dict(_delete_=True, type='IterBasedTrainLoop', max_iters=iters,
                          val_interval=iters + 1),
        'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
        'test_dataloader': None, 'test_cfg': None, 'test_evaluator': None,
        'default_hooks': dict(logger=dict(interval=1),
                              checkpoint=dict(interval=iters, by_epoch=False)),
    }
