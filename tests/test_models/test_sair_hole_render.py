"""``SAIR.inpaint`` at the input size renders only the hole (``fill_hole``) and evaluates the SIR
field only where those queries read it (``field_support``): the output must be bitwise the
composite of the full render, ``I * (1 - M) + render(encode(I, M)) * M``, in every composition,
precision and batch layout."""
import pytest
import torch

from tests.test_configs.shrink import TINY_CLIP
from tests.test_models.test_sair_fold import LTE, build

CASES = {
    'liif-explicit-field': dict(fold_sir=False),
    'liif-folded': dict(fold_sir=True),
    'lte-air': dict(air_head=LTE, fold_sir=False),
    'lte-air-folded': dict(air_head=LTE, fold_sir=True),
    'nfs': dict(sir=dict(encoder=dict(type='MaskCLIPEncoder', pretrained=None,
                                      model_cfg=TINY_CLIP), head=None)),
    'ous': dict(appearance_encoder=None),
    'liif': dict(sir=None),
    'normalized-fusion': dict(fusion=dict(type='NormalizedFusion')),
    'no-prune': dict(air_head=dict(type='LIIFHead', hidden_channels=(16, ), prune_eps=-1.0)),
}


def full_composite(model, img, mask):
    pred = model.render(model.encode(img, mask), img.shape[-2:])
    return img * (1 - mask) + pred * mask


def holes(size=24, seed=1):
    """Two images with different hole counts (one a few pixels, one large), one with none."""
    gen = torch.Generator().manual_seed(seed)
    img = torch.rand(3, 3, size, size, generator=gen)
    mask = torch.zeros(3, 1, size, size)
    mask[0, :, 3:6, 17:23] = 1
    mask[1] = (torch.rand(1, size, size, generator=gen) > 0.55).float()
    return img, mask


@pytest.mark.parametrize('case', sorted(CASES))
@pytest.mark.parametrize('precision', ['fp32', 'bf16'])
def test_hole_only_render_is_bitwise_the_composite(case, precision):
    model = build(**CASES[case]).eval()
    img, mask = holes()
    ctx = (torch.autocast('cpu', dtype=torch.bfloat16) if precision == 'bf16'
           else torch.autocast('cpu', enabled=False))
    with torch.no_grad(), ctx:
        out = model.inpaint(img, mask)
        ref = full_composite(model, img, mask)
    assert out.dtype == torch.float32 and out.shape == img.shape
    assert torch.equal(out, ref), (out - ref).abs().max()
    assert torch.equal(out[2], img[2])  # no hole: the input itself


def test_float64_and_fractional_masks_match_too():
    model = build().double().eval()
    img, mask = holes()
    img, mask = img.double(), mask.double() * 0.75  # a soft mask blends as the composite does
    with torch.no_grad():
        assert torch.equal(model.inpaint(img, mask), full_composite(model, img, mask))


def test_only_the_hole_is_queried_and_the_field_only_near_it(monkeypatch):
    model = build(fold_sir=False).eval()
    img, mask = holes()
    mask[1] = 0
    mask[1, :, 10:12, 10:13] = 1
    seen = {}
    forward = type(model.air_head).forward  # both heads are LIIFHeads

    def count(self, feat, coord, cell=None, skip=None):
        seen['air' if self is model.air_head else 'sir'] = coord.shape[1]
        return forward(self, feat, coord, cell, skip)

    monkeypatch.setattr(type(model.air_head), 'forward', count)
    with torch.no_grad():
        model.inpaint(img[:2], mask[:2])
    holes_per_image = mask[:2].flatten(1).sum(1)
    assert seen['air'] == int(holes_per_image.max()) == 18
    # SIR at the hole dilated by 2 cells (the ensemble's neighbour + the 3x3 unfold), clipped
    # at the border (rows 1-7, columns 15-23), not at all 24^2 pixels.
    support = model.field_support(mask[:2] > 0)
    assert seen['sir'] == int(support.flatten(1).sum(1).max()) == 7 * 9


def test_field_support_reach_follows_the_kernel():
    model = build().eval()
    region = torch.zeros(1, 1, 12, 12, dtype=torch.bool)
    region[0, 0, 5, 6] = True
    support = model.field_support(region)[0, 0]
    ys, xs = support.nonzero(as_tuple=True)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (3, 7, 4, 8)  # 1 + 3 // 2 = 2 cells
    assert model.field_support(None) is None


def test_field_edit_still_sees_the_whole_field():
    model = build(fold_sir=True).eval()
    img, mask = holes()
    shapes = []

    def edit(field):
        shapes.append(field.shape)
        assert (field[:, :, 0, 0] != 0).all()  # far from any hole: evaluated all the same
        return field

    with torch.no_grad():
        out = model.inpaint(img, mask, field_edit=edit)
        pred = model.render(model.encode(img, mask, field_edit=lambda f: f), img.shape[-2:])
    assert shapes == [(3, model.sir.out_channels, 24, 24)]
    assert torch.equal(out, img * (1 - mask) + pred * mask)
