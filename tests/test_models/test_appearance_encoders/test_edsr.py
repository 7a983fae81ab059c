import torch

from sair_toolbox.registry import APPEARANCE_ENCODERS


def test_edsr_baseline_size_and_shape():
    enc = APPEARANCE_ENCODERS.build(dict(type='EDSREncoder'))
    # LIIF's EDSR-baseline (no upsampling) has 1,220,416 parameters with an RGB head; the
    # extra mask channel adds 64 * 9 head weights.
    assert sum(p.numel() for p in enc.parameters()) == 1_220_416 + 64 * 9
    assert enc.out_channels == 64
    small = APPEARANCE_ENCODERS.build(dict(type='EDSREncoder', channels=8, num_blocks=2))
    img = torch.rand(2, 3, 13, 17)
    mask = torch.zeros(2, 1, 13, 17)
    assert small(img, mask).shape == (2, 8, 13, 17)
