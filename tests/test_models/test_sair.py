"""The SAIR model: modes, losses, query sampling, ablation compositions, frozen parts."""
import copy

import pytest
import torch

from sair_toolbox.registry import MODELS
from sair_toolbox.structures import InpaintDataSample
from sair_toolbox.utils.errors import ConfigError

TINY_CLIP = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
)
HEAD = dict(type='LIIFHead', hidden_channels=(16, 16))


def tiny_cfg(**overrides):
    cfg = dict(
        type='SAIR',
        appearance_encoder=dict(type='AppearanceCNN', base_channels=8, num_res_blocks=1),
        sir=dict(encoder=dict(type='MaskCLIPEncoder', pretrained=None, model_cfg=TINY_CLIP),
                 head=copy.deepcopy(HEAD)),
        air_head=copy.deepcopy(HEAD),
        sem_loss_weight=0.5)
    cfg.update(copy.deepcopy(overrides))
    return cfg


def batch(b=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    imgs = [torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8)
            for _ in range(b)]
    samples = []
    for _ in range(b):
        s = InpaintDataSample(metainfo=dict(img_path='x.png'))
        mask = torch.zeros(1, size, size)
        mask[:, size // 4:size // 2, size // 4:3 * size // 4] = 1
        s.mask = mask
        samples.append(s)
    return dict(inputs=imgs, data_samples=samples)


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        m = MODELS.build(tiny_cfg())
    m.init_weights()
    return m


def test_channels_are_derived_from_components(model):
    assert model.sir.head.in_channels == 32 + 1 and model.sir.head.out_channels == 32
    assert model.air_head.in_channels == 8 + 32 and model.air_head.out_channels == 3


def test_loss_mode_returns_both_losses_and_trains_only_trainables(model):
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_rec', 'loss_sem'}
    total = sum(losses.values())
    model.zero_grad()
    total.backward()
    assert all(p.grad is None for p in model.sir.encoder.parameters())
    assert model.air_head.mlp[0].weight.grad is not None if hasattr(model.air_head, 'mlp') \
        else True
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.sir.head.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.appearance_encoder.parameters())


def test_semantic_loss_is_alpha_times_l1_to_unmasked_features(model):
    data = model.data_preprocessor(batch(), True)
    img = data['inputs']
    mask = torch.stack([s.mask for s in data['data_samples']])
    grid = model.sir.encode(img * (1 - mask), mask)
    expected = 0.5 * (model.sir.reconstruct(grid) - model.sir.encoder(img)).abs().mean()
    losses = model(**data, mode='loss')
    assert torch.allclose(losses['loss_sem'], expected, atol=1e-6)


def test_predict_composites_and_keeps_known_pixels(model):
    model.eval()
    data = model.data_preprocessor(batch(), False)
    out = model(**data, mode='predict')
    img = data['inputs']
    for i, s in enumerate(out):
        assert s.output_img.shape == s.pred_img.shape == (3, 16, 16)
        known = s.mask[0] == 0
        assert torch.equal(s.output_img[:, known], img[i][:, known])
        assert torch.equal(s.output_img[:, ~known], s.pred_img[:, ~known])
        assert 0 <= s.pred_img.min() and s.pred_img.max() <= 1
    raw = model(**data, mode='tensor')
    assert torch.allclose(raw, torch.stack([s.pred_img for s in out]))


def test_hole_content_cannot_influence_the_output(model):
    model.eval()
    a = batch(seed=1)
    b = copy.deepcopy(a)
    for img, s in zip(b['inputs'], b['data_samples']):
        hole = s.mask[0] > 0
        img[:, hole] = 255 - img[:, hole]
    out_a = model(**model.data_preprocessor(a), mode='tensor')
    out_b = model(**model.data_preprocessor(b), mode='tensor')
    assert torch.allclose(out_a, out_b, atol=1e-6)


def test_inpaint_any_output_size(model):
    data = model.data_preprocessor(batch(b=1), False)
    mask = data['data_samples'][0].mask[None]
    up = model.inpaint(data['inputs'], mask, size=(40, 24))
    assert up.shape == (1, 3, 40, 24)
    same = model.inpaint(data['inputs'], mask)
    assert torch.equal(same[0][:, mask[0, 0] == 0], data['inputs'][0][:, mask[0, 0] == 0])


def test_query_sampling_without_replacement_and_hole_bias():
    torch.manual_seed(0)
    m = MODELS.build(tiny_cfg(num_queries=64, hole_query_ratio=0.9))
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, :4] = 1  # 25% hole
    idx = m.sample_queries(mask)
    assert idx.shape == (2, 64)
    assert all(len(set(row.tolist())) == 64 for row in idx)
    in_hole = mask.view(2, -1).gather(1, idx).mean()
    assert in_hole > 0.6  # biased towards the hole (uniform sampling would give 0.25)
    data = m.data_preprocessor(batch(), True)
    assert set(m(**data, mode='loss')) == {'loss_rec', 'loss_sem'}


def test_frozen_encoder_survives_init_weights_and_train_mode(model):
    before = {k: v.clone() for k, v in model.sir.encoder.state_dict().items()}
    model.init_weights()
    after = model.sir.encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    model.train()
    assert not model.sir.encoder.training
    assert model.air_head.training


@pytest.mark.parametrize('variant', ['liif', 'nfs', 'ous'])
def test_ablation_compositions(variant):
    torch.manual_seed(0)
    if variant == 'liif':
        cfg = tiny_cfg(sir=None)
    elif variant == 'nfs':
        cfg = tiny_cfg()
        cfg['sir']['head'] = None
    else:
        cfg = tiny_cfg(appearance_encoder=None)
    m = MODELS.build(cfg)
    data = m.data_preprocessor(batch(), True)
    losses = m(**data, mode='loss')
    # Without a SIR head there is nothing to fill, so no semantic loss (NFS, LIIF).
    assert ('loss_sem' in losses) == (variant == 'ous')
    sum(losses.values()).backward()
    expected_in = {'liif': 8, 'nfs': 8 + 32, 'ous': 32}[variant]
    assert m.air_head.in_channels == expected_in


def test_needs_some_features():
    with pytest.raises(ConfigError, match='appearance_encoder, a sir'):
        MODELS.build(tiny_cfg(appearance_encoder=None, sir=None))
