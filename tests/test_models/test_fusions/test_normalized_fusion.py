"""NormalizedFusion: unit-norm field times a learned gain, inside SAIR."""
import pytest
import torch

from sair_toolbox.registry import SEMANTIC_FUSIONS
from sair_toolbox.utils.errors import ConfigError, ShapeError


def test_direction_kept_norm_is_the_gain():
    fusion = SEMANTIC_FUSIONS.build(dict(type='NormalizedFusion', in_channels=8, init_gain=3.0))
    sem = torch.randn(2, 8, 4, 5) * torch.rand(2, 1, 4, 5) * 10
    out = fusion(sem)
    assert out.shape == sem.shape and fusion.out_channels == 8
    assert torch.allclose(out.norm(dim=1), torch.full((2, 4, 5), 3.0), atol=1e-5)
    cos = torch.nn.functional.cosine_similarity(out, sem, dim=1)
    assert torch.allclose(cos, torch.ones_like(cos), atol=1e-5)
    out.sum().backward()
    assert fusion.gain.grad is not None


def test_errors():
    with pytest.raises(ConfigError):
        SEMANTIC_FUSIONS.build(dict(type='NormalizedFusion', in_channels=0))
    fusion = SEMANTIC_FUSIONS.build(dict(type='NormalizedFusion', in_channels=8))
    with pytest.raises(ShapeError):
        fusion(torch.zeros(1, 4, 2, 2))
