"""CLIPTextEmbedder with a tiny open_clip model (offline)."""
import copy

import pytest
import torch
import torch.nn.functional as F

from sair_toolbox.models.clip_loading import create_clip, get_clip_tokenizer
from sair_toolbox.models.semantic_encoders.maskclip import MaskCLIPEncoder
from sair_toolbox.models.text_embedder import DEFAULT_TEMPLATES, CLIPTextEmbedder
from sair_toolbox.utils.errors import ConfigError

from tests.tiny_clip import TINY_CLIP, save_tiny_clip

TINY = TINY_CLIP
NAMES = ['hair', 'skin', 'left eye']


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp('clip'), seed=3)


@pytest.fixture(scope='module')
def embedder(tiny_ckpt):
    return CLIPTextEmbedder(pretrained=tiny_ckpt[0], model_cfg=TINY)


def test_embed_matches_prompt_ensemble(embedder, tiny_ckpt):
    import open_clip
    model = tiny_ckpt[1]
    emb = embedder.embed(NAMES)
    assert emb.shape == (3, 64) and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)
    with torch.no_grad():
        for row, name in zip(emb, NAMES):
            tokens = open_clip.tokenize([t.format(name) for t in DEFAULT_TEMPLATES])
            feats = F.normalize(model.encode_text(tokens), dim=-1)
            ref = F.normalize(feats.mean(dim=0), dim=0)
            assert torch.allclose(row, ref, atol=1e-5)


def test_batching_does_not_change_result(tiny_ckpt, embedder):
    small = CLIPTextEmbedder(pretrained=tiny_ckpt[0], model_cfg=TINY, batch_size=3)
    assert torch.allclose(small.embed(NAMES), embedder.embed(NAMES), atol=1e-6)


def test_custom_templates(tiny_ckpt):
    single = CLIPTextEmbedder(pretrained=tiny_ckpt[0], model_cfg=TINY, templates=['{}'])
    emb = single.embed(['hair'])
    model = tiny_ckpt[1]
    import open_clip
    with torch.no_grad():
        ref = F.normalize(model.encode_text(open_clip.tokenize(['hair'])), dim=-1)
    assert torch.allclose(emb, ref, atol=1e-5)


def test_default_templates():
    assert 7 <= len(DEFAULT_TEMPLATES) <= 10
    assert all(t.count('{}') == 1 for t in DEFAULT_TEMPLATES)


def test_same_weights_as_encoder():
    """Same arch/pretrained/model_cfg => same CLIP weights on both sides (here: random init)."""
    with pytest.warns(UserWarning):
        enc = MaskCLIPEncoder(pretrained=None, model_cfg=TINY)
        emb = CLIPTextEmbedder(pretrained=None, model_cfg=TINY)
        clip, _ = create_clip('ViT-B-16', None, TINY)
    assert torch.equal(enc.visual.conv1.weight, clip.visual.conv1.weight)
    assert torch.equal(enc.visual.proj, clip.visual.proj)
    assert torch.equal(emb.clip.token_embedding.weight, clip.token_embedding.weight)
    assert torch.equal(emb.clip.text_projection, clip.text_projection)


def test_frozen(embedder):
    embedder.train()
    assert not embedder.training
    assert not any(p.requires_grad for p in embedder.parameters())
    assert not embedder.embed(['hair']).requires_grad


def test_tokenizer_offline(monkeypatch):
    from open_clip.tokenizer import SimpleTokenizer
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    tok = get_clip_tokenizer('ViT-B-16')  # the BPE vocabulary ships with open_clip
    assert isinstance(tok, SimpleTokenizer)
    assert tok(['a photo of a cat.']).shape == (1, 77)
    cfg = copy.deepcopy(TINY)
    cfg['text_cfg']['context_length'] = 16
    assert get_clip_tokenizer('ViT-B-16', cfg)(['a photo of a cat.']).shape == (1, 16)


def test_bad_arguments(tiny_ckpt, embedder):
    with pytest.raises(ConfigError, match='templates'):
        CLIPTextEmbedder(pretrained=tiny_ckpt[0], model_cfg=TINY, templates=['no slot'])
    with pytest.raises(ConfigError, match='class_names'):
        embedder.embed([])
    with pytest.raises(ConfigError, match='class_names'):
        embedder.embed('hair')
