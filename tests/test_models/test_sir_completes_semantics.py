"""SIR completes missing semantics (paper Tab. 5 in seconds).

A tiny demo CLIP is pretrained (text-aligned on the demo scenes); the encoder's features of masked
and unmasked scenes are computed once and cached; the SIR head alone is trained on them with the
paper's L2 (``|SIR(grid) - Z_sem(I)|_1``). Inside the hole, the zero-shot labels of the SIR field
must then be better than those of the resized masked features.
"""
import numpy as np
import pytest
import torch

from sair_toolbox.datasets.demo_scenes import DEMO_CLASSES
from sair_toolbox.datasets.masks.procedural_mask_generator import generate_mask
from sair_toolbox.evaluation.segmentation import SegmentationMIoU
from sair_toolbox.models.sir import SemanticImplicitRepresentation
from sair_toolbox.models.text_embedder import CLIPTextEmbedder
from sair_toolbox.models.weights_providers.demo_clip_pretraining import (deterministic,
                                                                         render_scenes)
from sair_toolbox.models.zero_shot import labels_from_features

SIZE = 32
CLIP_CFG = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=SIZE, layers=1, width=32, patch_size=4, head_width=16),
    text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2, layers=1),
)


@pytest.fixture(scope='module')
def demo_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp('sir_sem') / 'demo_clip'
    return dict(type='DemoCLIPWeights', cache_dir=str(folder), image_size=SIZE, num_scenes=128,
                steps=60, batch_size=16, lr=3e-3, warmup=10, num_val=0)


def masked_scenes(num, seed, stream):
    imgs, labels = render_scenes(num, SIZE, seed, stream)
    rng = np.random.default_rng(seed)
    masks = np.stack([generate_mask(SIZE, SIZE, rng, (0.3, 0.5)) for _ in range(num)])
    masks = torch.from_numpy(masks).float().reshape(num, 1, SIZE, SIZE)
    return imgs.float() / 255, masks, labels


def hole_miou(fields, text, labels, masks):
    meter = SegmentationMIoU(len(DEMO_CLASSES))
    meter.update(labels_from_features(fields, text), labels, valid=masks[:, 0] > 0.5)
    return meter.compute()['mIoU']


def test_sir_fills_the_hole_with_the_right_classes(demo_clip):
    sir = SemanticImplicitRepresentation(
        encoder=dict(type='MaskCLIPEncoder', pretrained=demo_clip, model_cfg=CLIP_CFG),
        head=dict(type='LIIFHead', hidden_channels=(64, 64)))
    text = CLIPTextEmbedder(pretrained=demo_clip, model_cfg=CLIP_CFG).embed(DEMO_CLASSES)
    with deterministic(num_threads=2), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        imgs, masks, _ = masked_scenes(128, seed=5, stream=7)
        with torch.no_grad():  # cached encoder features: the head trains on these only
            grids = sir.encode(imgs * (1 - masks), masks)
            targets = sir.target(imgs)
        optim = torch.optim.Adam(sir.head.parameters(), lr=2e-3)
        for step in range(120):
            idx = torch.randint(0, len(grids), (32,))
            loss = torch.nn.functional.l1_loss(sir.reconstruct(grids[idx]), targets[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()

        imgs, masks, labels = masked_scenes(48, seed=6, stream=7)
        with torch.no_grad():
            grids = sir.encode(imgs * (1 - masks), masks)
            with_sir = sir.field(grids, (SIZE, SIZE))
            without = torch.nn.functional.interpolate(grids[:, :-1], size=(SIZE, SIZE),
                                                      mode='bilinear', align_corners=False)
            unmasked = torch.nn.functional.interpolate(sir.target(imgs), size=(SIZE, SIZE),
                                                       mode='bilinear', align_corners=False)
    scores = {name: hole_miou(f, text, labels, masks) for name, f in
              (('without', without), ('with', with_sir), ('unmasked', unmasked))}
    print(scores)
    assert scores['unmasked'] > 0.3  # the encoder is text-aligned
    assert scores['with'] > scores['without'] + 0.05
