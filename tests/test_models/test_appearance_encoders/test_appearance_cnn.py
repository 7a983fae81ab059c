import pytest
import torch
from torch import nn

from sair_toolbox.models.appearance_encoders.appearance_cnn import AppearanceCNN
from sair_toolbox.registry import APPEARANCE_ENCODERS
from sair_toolbox.utils.errors import ShapeError


def _convs(module):
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def test_architecture_follows_table_3():
    enc = AppearanceCNN()
    down = _convs(enc.down)
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0], c.padding[0])
            for c in down] == [(4, 64, 7, 1, 3), (64, 128, 4, 2, 1), (128, 256, 4, 2, 1)]
    res_blocks = [m for m in enc.middle if m.__class__.__name__ == 'ResnetBlock']
    assert len(res_blocks) == 8
    tail = [c for c in enc.middle if isinstance(c, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in tail] == \
        [(256, 256, 3), (256, 256, 3)]
    up = _convs(enc.up)
    assert all(isinstance(c, nn.ConvTranspose2d) for c in up)
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0]) for c in up] == \
        [(256, 128, 4, 2), (128, 64, 4, 2)]
    assert enc.out_channels == 64


@pytest.mark.parametrize('size', [(32, 32), (30, 22), (7, 9)])
def test_full_resolution_output_any_size(size):
    enc = AppearanceCNN(base_channels=8, num_res_blocks=1)
    img = torch.rand(2, 3, *size)
    mask = (torch.rand(2, 1, *size) > 0.5).float()
    out = enc(img * (1 - mask), mask)
    assert out.shape == (2, 8, *size)
    assert (out >= 0).all()  # ends with ReLU, as in Tab. 3


def test_hole_content_does_not_leak():
    enc = AppearanceCNN(base_channels=8, num_res_blocks=1)
    img = torch.rand(1, 3, 16, 16)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    other = img.clone()
    other[..., 4:12, 4:12] = torch.rand(1, 3, 8, 8)
    # The encoder masks again internally, so even an unmasked input cannot leak the hole.
    assert torch.equal(enc(img, mask), enc(other, mask))


def test_registered_and_shape_errors():
    enc = APPEARANCE_ENCODERS.build(dict(type='AppearanceCNN', base_channels=8,
                                         num_res_blocks=1))
    with pytest.raises(ShapeError, match='expects a'):
        enc(torch.rand(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    with pytest.raises(ShapeError, match='does not match'):
        enc(torch.rand(1, 3, 8, 8), torch.zeros(1, 1, 8, 4))
