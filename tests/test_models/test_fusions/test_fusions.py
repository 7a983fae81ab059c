"""Semantic fusions: ConcatFusion (paper default) and ClassLogitFusion (authors' release option)."""
import math

import pytest
import torch
import torch.nn.functional as F

from sair_toolbox.models.fusions.class_logit_fusion import ClassLogitFusion
from sair_toolbox.models.fusions.concat_fusion import ConcatFusion
from sair_toolbox.models.text_embedder import CLIPTextEmbedder
from sair_toolbox.registry import SEMANTIC_FUSIONS
from sair_toolbox.utils.errors import ConfigError, ShapeError

from tests.tiny_clip import TINY_CLIP, save_tiny_clip

TINY = TINY_CLIP
NAMES = ['sky', 'tree', 'road', 'car']


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp('clip'), seed=5)[0]


@pytest.fixture(scope='module')
def text_cfg(ckpt):
    return dict(pretrained=ckpt, model_cfg=TINY)


@pytest.fixture(scope='module')
def fusion(text_cfg):
    return SEMANTIC_FUSIONS.build(dict(type='ClassLogitFusion', class_names=NAMES, in_channels=64,
                                       text_embedder=text_cfg))


def test_concat_fusion_is_identity():
    fusion = SEMANTIC_FUSIONS.build(dict(type='ConcatFusion', in_channels=8))
    assert isinstance(fusion, ConcatFusion) and fusion.out_channels == 8
    sem = torch.randn(2, 8, 5, 7)
    assert fusion(sem) is sem
    assert not list(fusion.parameters())
    with pytest.raises(ShapeError, match='8'):
        fusion(torch.randn(2, 4, 5, 7))


def test_class_logit_fusion_values(fusion, text_cfg):
    assert isinstance(fusion, ClassLogitFusion)
    assert fusion.out_channels == 4 and fusion.in_channels == 64
    emb = CLIPTextEmbedder(**text_cfg).embed(NAMES)
    assert torch.allclose(fusion.text_embeddings, emb, atol=1e-6)
    sem = torch.randn(2, 64, 3, 5)
    out = fusion(sem)
    ref = torch.einsum('bchw,lc->blhw', F.normalize(sem, dim=1), emb) / 0.01
    assert out.shape == (2, 4, 3, 5)
    assert torch.allclose(out, ref, atol=1e-3)
    assert out.abs().max() <= 100 + 1e-3  # cosine / temperature


def test_class_logit_argmax_recovers_class(fusion):
    """A field equal to (a multiple of) class k's text embedding is labelled k everywhere."""
    emb = fusion.text_embeddings
    labels = torch.tensor([[2, 0], [3, 1]])
    sem = (emb[labels] * 3.0).permute(2, 0, 1).unsqueeze(0)  # (1, 64, 2, 2)
    logits = fusion(sem)
    assert torch.equal(logits.argmax(dim=1)[0], labels)
    assert torch.allclose(logits.amax(dim=1), torch.full((1, 2, 2), 100.0), atol=1e-3)


def test_buffers_not_trained(fusion):
    assert not [n for n, p in fusion.named_parameters()]
    state = fusion.state_dict()
    assert state['text_embeddings'].shape == (4, 64)
    assert not hasattr(fusion, 'embedder')  # the text model is not kept


def test_learnable_temperature_and_no_normalize(text_cfg):
    fusion = ClassLogitFusion(NAMES, in_channels=64, text_embedder=text_cfg, temperature=0.05,
                              learnable_temperature=True, normalize=False)
    assert fusion.logit_scale.requires_grad
    assert math.isclose(fusion.logit_scale.item(), math.log(20.0), rel_tol=1e-6)
    sem = torch.randn(1, 64, 2, 2)
    out = fusion(sem)
    ref = torch.einsum('bchw,lc->blhw', sem, fusion.text_embeddings) * 20.0
    assert torch.allclose(out, ref, atol=1e-4)
    out.sum().backward()
    assert fusion.logit_scale.grad is not None


def test_accepts_built_embedder(text_cfg):
    embedder = CLIPTextEmbedder(**text_cfg)
    fusion = ClassLogitFusion(['sky'], text_embedder=embedder)
    assert fusion.out_channels == 1 and fusion.in_channels == 64


def test_errors(text_cfg, fusion):
    with pytest.raises(ConfigError, match='512'):
        ClassLogitFusion(NAMES, in_channels=512, text_embedder=text_cfg)
    with pytest.raises(ConfigError, match='class_names'):
        ClassLogitFusion([], text_embedder=text_cfg)
    with pytest.raises(ConfigError, match='temperature'):
        ClassLogitFusion(NAMES, text_embedder=text_cfg, temperature=0)
    with pytest.raises(ShapeError, match='64'):
        fusion(torch.randn(1, 32, 2, 2))
