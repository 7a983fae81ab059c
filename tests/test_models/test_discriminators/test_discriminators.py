"""PatchGAN and multi-scale discriminators: they see the mask and return their features."""
import pytest
import torch

from sair_toolbox.registry import DISCRIMINATORS
from sair_toolbox.utils.errors import ConfigError, ShapeError


def test_patch_discriminator_sees_the_mask_and_returns_features():
    disc = DISCRIMINATORS.build(dict(type='PatchDiscriminator', base_channels=8, num_layers=3))
    img = torch.rand(2, 3, 32, 32, requires_grad=True)
    mask = torch.zeros(2, 1, 32, 32)
    out = disc(img, mask)
    assert len(out.logits) == 1 and out.logits[0].shape == (2, 1, 4, 4)
    assert [f.shape[1] for f in out.features[0]] == [8, 16, 32, 64]
    out.logits[0].sum().backward()
    assert img.grad is not None
    # The mask is an input: changing it changes the scores.
    assert not torch.allclose(disc(img, torch.ones_like(mask)).logits[0], out.logits[0])
    with pytest.raises(ShapeError, match='mask'):
        disc(img)
    assert disc.blocks[0][0].in_channels == 4


def test_multiscale_discriminator_scales_and_spectral_norm():
    disc = DISCRIMINATORS.build(dict(
        type='MultiScaleDiscriminator', num_scales=3,
        discriminator=dict(type='PatchDiscriminator', base_channels=4, num_layers=2,
                           norm='spectral')))
    out = disc(torch.rand(2, 3, 32, 32), torch.rand(2, 1, 32, 32).round())
    assert [m.shape[-1] for m in out.logits] == [8, 4, 2]
    assert len(out.features) == 3 and all(len(f) == 3 for f in out.features)
    # Independent parameters per scale.
    assert disc.scales[0] is not disc.scales[1]
    with pytest.raises(ConfigError):
        DISCRIMINATORS.build(dict(type='PatchDiscriminator', norm='batch'))
