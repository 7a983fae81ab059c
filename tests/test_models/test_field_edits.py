"""Field edits (text-guided fill): the steering math, the SAIR seam, the inferencer's option."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sair_toolbox.models.field_edits import FieldSteering, check_guidance_scale, steer_field
from sair_toolbox.utils.errors import ConfigError, ShapeError
from tests.tiny_sair import tiny_inferencer


def _field():
    torch.manual_seed(0)
    field = torch.randn(2, 16, 6, 7)
    region = torch.zeros(2, 1, 6, 7)
    region[:, :, 1:4, 2:6] = 1
    text = F.normalize(torch.randn(16), dim=0)
    return field, region, text


def test_replace_keeps_norm_and_points_at_the_text():
    field, region, text = _field()
    out = steer_field(field, region, text, strength=1.0, scale='match_norm')
    inside = region[:, 0] > 0
    assert torch.equal(out.permute(0, 2, 3, 1)[~inside], field.permute(0, 2, 3, 1)[~inside])
    cos = F.cosine_similarity(out, text.view(1, -1, 1, 1), dim=1)
    assert torch.allclose(cos[inside], torch.ones(()), atol=1e-5)
    assert torch.allclose(out.norm(dim=1)[inside], field.norm(dim=1)[inside], atol=1e-5)


def test_scales_and_strength():
    field, region, text = _field()
    inside = region[:, 0] > 0
    unit = steer_field(field, region, text, scale='unit')
    assert torch.allclose(unit.norm(dim=1)[inside], torch.ones(()), atol=1e-5)
    flat = steer_field(field, region, text, scale='region_norm')
    for b in range(2):
        mean = field[b].norm(dim=0)[inside[b]].mean()
        assert torch.allclose(flat[b].norm(dim=0)[inside[b]], mean, atol=1e-5)
    half = steer_field(field, region, text, strength=0.5)
    full = steer_field(field, region, text, strength=1.0)
    assert torch.allclose(half, (field + full) / 2, atol=1e-6)
    assert torch.equal(steer_field(field, region, text, strength=0.0), field)
    # a region at another resolution is resized (area); a soft weight blends
    big = F.interpolate(region, scale_factor=2, mode='nearest')
    assert torch.allclose(steer_field(field, big, text), full, atol=1e-6)


def test_bad_arguments():
    field, region, text = _field()
    with pytest.raises(ConfigError, match='scale must be one of'):
        FieldSteering(text, region, scale='bigger')
    with pytest.raises(ConfigError, match="one of match_norm, region_norm, unit, got 'x'"):
        check_guidance_scale('x')
    assert check_guidance_scale('unit') == 'unit'
    with pytest.raises(ShapeError, match='does not fit'):
        steer_field(field, region, torch.ones(8))
    with pytest.raises(ShapeError, match='region'):
        steer_field(field, region[:, 0], text)


@pytest.fixture(scope='module')
def inferencer(tmp_path_factory):
    return tiny_inferencer(tmp_path_factory.mktemp('tg'))


def _inputs():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    hole = np.zeros((24, 32), bool)
    hole[6:16, 8:22] = True
    return img, hole


def test_seam_identity_and_hole_only(inferencer):
    model = inferencer.model
    img, hole = _inputs()
    t_img = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    t_mask = torch.from_numpy(hole).float()[None, None]
    plain = model.inpaint(t_img, t_mask)
    # (equal up to float rounding: with field_edit the explicit field S is always used, without
    # it the model may fold SIR's last layer into AIR)
    identity = model.inpaint(t_img, t_mask, field_edit=lambda f: f)
    assert torch.allclose(identity, plain, atol=1e-5)
    plain = identity
    text = inferencer.text_embedding('water')
    steered = model.inpaint(t_img, t_mask, field_edit=FieldSteering(text, t_mask))
    diff = (steered - plain).abs().amax(1)[0]
    assert diff[torch.from_numpy(~hole)].max() == 0 and diff[torch.from_numpy(hole)].max() > 0
    liif = type(model).__new__(type(model))
    torch.nn.Module.__init__(liif)
    liif.sir = None
    with pytest.raises(ConfigError, match='semantic branch'):
        type(model).encode(liif, t_img, t_mask, field_edit=lambda f: f)


def test_named_class_fills_the_field_in_the_hole(inferencer):
    img, hole = _inputs()
    for k, name in enumerate(inferencer.class_names):
        result = inferencer(img, hole, text=name)
        assert result.text == name
        # match_norm, strength 1: the field in the hole is |S| t_k, whose label is k.
        assert (result.labels_sir[hole] == k).all()
        assert np.array_equal(result.labels_masked, inferencer(img, hole).labels_masked)
    # a prompt that is not a class name is embedded as it is
    prompt = inferencer.text_embedding('a photo of a lake')
    assert prompt.shape == (inferencer.class_embeddings.shape[1], )
    assert not torch.allclose(prompt, inferencer.text_embedding('water'))
    with pytest.raises(ConfigError, match='empty'):
        inferencer.text_embedding('  ')
