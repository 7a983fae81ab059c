"""SAIR's fold of the SIR's last layer into AIR (``fold_sir``) against the explicit field ``S``:
same outputs and gradients (float64, so only the order of float operations differs), the
fallbacks, and the errors where it cannot apply."""
import warnings

import pytest
import torch

from sair_toolbox.registry import MODELS
from sair_toolbox.utils.errors import ConfigError
from tests.test_configs.shrink import TINY_CLIP
from tests.test_models.test_sair import tiny_cfg

LTE = dict(type='LTEHead', hidden_channels=16, mlp_hidden=(16, ))


def build(**cfg):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(tiny_cfg(**cfg))
    # Non-zero biases everywhere (the border term of the fold is the SIR bias's).
    for name, p in model.named_parameters():
        if name.endswith('bias'):
            torch.nn.init.normal_(p, std=0.5)
    return model


def inputs(size=24, dtype=torch.float64):
    gen = torch.Generator().manual_seed(1)
    img = torch.rand(2, 3, size, size, generator=gen, dtype=dtype)
    mask = (torch.rand(2, 1, size, size, generator=gen) > 0.6).to(dtype)
    return img, mask


def run(model, img, mask, size):
    """Losses, gradients of every parameter, and a render at ``size``."""
    model.zero_grad()
    torch.manual_seed(2)  # the same sampled queries
    losses = model.loss(img, mask)
    sum(losses.values()).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    with torch.no_grad():
        out = model.encode(img, mask).grid(size)
    return losses, grads, out


CASES = {
    'liif': {},
    'lte-air': dict(air_head=LTE),
    'ous': dict(appearance_encoder=None),
    'sampled-queries': dict(num_queries=300, hole_query_ratio=0.5),
    'concat-fusion': dict(fusion=dict(type='ConcatFusion')),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_fold_matches_explicit_field_with_gradients(case):
    fused = build(fold_sir=True, **CASES[case]).double().train()
    plain = build(fold_sir=False, **CASES[case]).double().train()
    plain.load_state_dict(fused.state_dict())
    assert fused.fold_sir and not plain.fold_sir
    img, mask = inputs()
    rep = fused.encode(img, mask)
    assert rep.folded and rep.feat is None and rep.proj is not None  # S is not built for AIR
    # Scale 1 (the training and inpainting case) and a non-integer up-scale.
    for size in [(24, 24), (35, 38)]:
        (lf, gf, of), (lp, gp, op) = run(fused, img, mask, size), run(plain, img, mask, size)
        assert lf.keys() == lp.keys()
        for k in lf:
            torch.testing.assert_close(lf[k], lp[k], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(of, op, rtol=1e-10, atol=1e-10)
        assert gf.keys() == gp.keys() and any(k.startswith('sir.head') for k in gf)
        for k in gf:
            torch.testing.assert_close(gf[k], gp[k], rtol=1e-8, atol=1e-10, msg=k)


def test_fold_under_bfloat16_stays_close_to_float32():
    model = build().eval()
    img, mask = inputs(dtype=torch.float32)
    with torch.no_grad():
        ref = model.inpaint(img, mask)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = model.inpaint(img, mask)
    assert out.dtype == torch.float32 and (out - ref).abs().max() < 0.03


def test_field_edit_uses_the_explicit_field():
    model = build().double().eval()
    img, mask = inputs()
    seen = []

    def edit(field):
        seen.append(field.shape)
        return field

    with torch.no_grad():
        rep = model.encode(img, mask, field_edit=edit)
        assert not rep.folded and rep.proj is None and rep.feat is not None
        assert seen == [(2, model.sir.out_channels, 24, 24)]
        # An identity edit renders what the fold renders.
        torch.testing.assert_close(model.inpaint(img, mask, field_edit=edit),
                                   model.inpaint(img, mask), rtol=1e-10, atol=1e-10)
        # S is still produced for the segmentation check.
        assert model.semantic_features(img, mask).shape == (2, model.sir.out_channels, 24, 24)


@pytest.mark.parametrize('overrides,reason', [
    (dict(sir=dict(encoder=dict(type='MaskCLIPEncoder', pretrained=None, model_cfg=TINY_CLIP),
                   head=None)), 'no SIR head'),
    (dict(sir=dict(encoder=dict(type='MaskCLIPEncoder', pretrained=None, model_cfg=TINY_CLIP),
                   head=LTE)), 'global_skip'),
    (dict(fusion=dict(type='ClassLogitFusion', class_names=['a', 'b'], text_embedder=dict(
        arch='ViT-B-16', pretrained=None, model_cfg=TINY_CLIP))), 'not linear'),
])
def test_where_the_fold_does_not_apply(overrides, reason):
    assert not build(**overrides).fold_sir  # 'auto' falls back to the explicit field
    with pytest.raises(ConfigError, match=reason):
        build(fold_sir=True, **overrides)


def test_fold_switch_is_checked():
    with pytest.raises(ConfigError, match='fold_sir must be'):
        build(fold_sir='yes')


def test_auto_folds_only_when_the_hidden_width_is_narrower_than_the_field():
    # Tiny SIR head: hidden 16 < field 32, so 'auto' folds (as the paper config, 256 < 512).
    assert build().fold_sir
    wide = dict(sir=dict(encoder=dict(type='MaskCLIPEncoder', pretrained=None,
                                      model_cfg=TINY_CLIP),
                         head=dict(type='LIIFHead', hidden_channels=(48, 48))))
    assert not build(**wide).fold_sir  # 48 >= 32: folding would widen AIR's input
    assert build(fold_sir=True, **wide).fold_sir  # still exact when asked for
