"""The appearance encoders' shared input handling: the NHWC layout is the same function."""
import pytest
import torch

from sair_toolbox.registry import APPEARANCE_ENCODERS

ENCODERS = [dict(type='AppearanceCNN', base_channels=8, num_res_blocks=1),
            dict(type='EDSREncoder', channels=8, num_blocks=2)]


@pytest.mark.parametrize('cfg', ENCODERS, ids=lambda c: c['type'])
@pytest.mark.parametrize('size', [(16, 16), (13, 18)])  # 13 x 18: padded and cropped back
def test_channels_last_matches_nchw_with_gradients(cfg, size):
    torch.manual_seed(0)
    nhwc = APPEARANCE_ENCODERS.build(dict(cfg, channels_last=True))
    nchw = APPEARANCE_ENCODERS.build(dict(cfg, channels_last=False))
    nchw.load_state_dict(nhwc.state_dict())
    img = torch.rand(2, 3, *size)
    mask = (torch.rand(2, 1, *size) > 0.6).float()
    out_l, out_c = nhwc(img * (1 - mask), mask), nchw(img * (1 - mask), mask)
    assert out_l.shape == out_c.shape == (2, 8, *size)
    if size == (16, 16):  # no crop: the features come back NHWC, as the heads' tables want
        assert out_l.is_contiguous(memory_format=torch.channels_last)
        assert out_c.is_contiguous()
    torch.testing.assert_close(out_l, out_c, rtol=1e-5, atol=1e-5)
    weight = torch.rand_like(out_c)
    (out_l * weight).sum().backward()
    (out_c * weight).sum().backward()
    for (name, p_l), p_c in zip(nhwc.named_parameters(), nchw.parameters()):
        torch.testing.assert_close(p_l.grad, p_c.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_channels_last_is_the_default():
    for cfg in ENCODERS:
        assert APPEARANCE_ENCODERS.build(cfg).channels_last is True
