"""DemoCLIPWeights: deterministic pretraining, a self-healing cache, the real loading path."""
import json
import logging
import os
import threading
import warnings

import pytest
import torch

from sair_toolbox.models.clip_loading import resolve_clip_checkpoint
from sair_toolbox.models.semantic_encoders.maskclip import MaskCLIPEncoder
from sair_toolbox.models.text_embedder import CLIPTextEmbedder
from sair_toolbox.models.weights_providers import demo_clip_pretraining, demo_clip_weights
from sair_toolbox.models.weights_providers.demo_clip_weights import (META_FILE, WEIGHTS_FILE,
                                                                     DemoCLIPWeights)
from sair_toolbox.utils.errors import ConfigError, DataError

#: 32 x 32 scenes, patch 8: a few seconds of pretraining.
TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8, head_width=16),
    text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2, layers=1),
)
RECIPE = dict(image_size=32, num_scenes=8, steps=3, batch_size=4, warmup=1, num_val=4)


def provider_cfg(cache_dir, **kwargs):
    return dict(type='DemoCLIPWeights', cache_dir=str(cache_dir), **dict(RECIPE, **kwargs))


def build(cache_dir, **kwargs):
    return DemoCLIPWeights(**{k: v for k, v in provider_cfg(cache_dir, **kwargs).items()
                              if k != 'type'})


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp('demo_clip') / 'demo_clip'
    path = build(folder).resolve(model_cfg=TINY)
    return folder, path


def cache_lines(records):
    return [r for r in records if 'demo CLIP cache' in r.getMessage()]


def test_pretraining_is_deterministic(cache, tmp_path):
    folder, path = cache
    again = build(tmp_path / 'again').resolve(model_cfg=TINY)
    with open(path, 'rb') as f, open(again, 'rb') as g:
        assert f.read() == g.read()
    meta = json.loads((folder / META_FILE).read_text())
    assert meta['version'] == demo_clip_weights.DEMO_CLIP_VERSION
    assert meta['params']['steps'] == 3 and meta['model_cfg'] == TINY
    assert 0 <= meta['result']['val_mIoU'] <= 1
    assert sorted(os.listdir(folder)) == sorted([META_FILE, WEIGHTS_FILE])


def test_pretraining_changes_both_towers(cache, tmp_path):
    from safetensors.torch import load_file
    trained = load_file(cache[1])
    init = tmp_path / 'init.pt'
    demo_clip_pretraining._save_init(TINY, str(init), seed=0)
    start = torch.load(init, weights_only=True)
    changed = {k for k in start if not torch.equal(start[k], trained[k])}
    assert any(k.startswith('visual.transformer') for k in changed)
    assert any(k.startswith('transformer.') for k in changed)  # the text tower
    assert 'logit_scale' in changed and 'text_projection' in changed
    assert 'token_embedding.weight' not in changed


@pytest.mark.parametrize('damage,word', [
    (lambda folder: (folder / WEIGHTS_FILE).write_bytes(b'garbage'), 'checksum'),
    (lambda folder: (folder / WEIGHTS_FILE).unlink(), 'missing'),
    (lambda folder: (folder / META_FILE).write_text('{not json'), META_FILE),
])
def test_corrupt_cache_is_rebuilt_with_one_line(cache, tmp_path, caplog, damage, word):
    folder = tmp_path / 'demo_clip'
    good = build(folder).resolve(model_cfg=TINY)
    reference = open(good, 'rb').read()
    damage(folder)
    build(folder).resolve(model_cfg=TINY)
    lines = cache_lines(caplog)
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert 'corrupt' in lines[0].getMessage() and word in lines[0].getMessage()
    assert open(good, 'rb').read() == reference
    del caplog[:]
    build(folder).resolve(model_cfg=TINY)  # healthy now: nothing to say
    assert not cache_lines(caplog)


def test_stale_cache_is_rebuilt_with_one_line(tmp_path, caplog):
    folder = tmp_path / 'demo_clip'
    build(folder).resolve(model_cfg=TINY)
    build(folder, steps=2).resolve(model_cfg=TINY)
    lines = cache_lines(caplog)
    assert len(lines) == 1 and 'stale (other params)' in lines[0].getMessage()
    meta = json.loads((folder / META_FILE).read_text())
    assert meta['params']['steps'] == 2
    meta['version'] = 0  # a cache from an older recipe
    (folder / META_FILE).write_text(json.dumps(meta))
    assert build(folder, steps=2).check(TINY) == 'stale (other version)'


def test_concurrent_first_use_pretrains_once(tmp_path, monkeypatch):
    calls = []
    real = demo_clip_pretraining.pretrain_demo_clip

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(demo_clip_pretraining, 'pretrain_demo_clip', counting)
    folder = tmp_path / 'demo_clip'
    paths, errors = [], []

    def worker():
        try:
            paths.append(build(folder).resolve(model_cfg=TINY))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(paths) == 2 and len(calls) == 1
    assert build(folder).check(TINY) is None
    assert not [p for p in os.listdir(tmp_path) if '.tmp' in p]


def test_encoder_and_text_embedder_load_through_the_provider(cache):
    folder, path = cache
    pretrained = provider_cfg(folder)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no random-init warning
        encoder = MaskCLIPEncoder(pretrained=pretrained, model_cfg=TINY)
        embedder = CLIPTextEmbedder(pretrained=pretrained, model_cfg=TINY)
    assert encoder.checkpoint == embedder.checkpoint == path
    assert not any(p.requires_grad for p in encoder.parameters())
    feats = encoder(torch.rand(2, 3, 32, 32))
    text = embedder.embed(['sky', 'grass'])
    assert feats.shape == (2, 32, 4, 4) and text.shape == (2, 32)
    # The same weights as a plain path load.
    plain = MaskCLIPEncoder(pretrained=path, model_cfg=TINY)
    img = torch.rand(1, 3, 32, 32)
    assert torch.equal(plain(img), encoder(img))


def test_provider_errors(tmp_path):
    with pytest.raises(ConfigError, match='model_cfg'):
        resolve_clip_checkpoint('ViT-B-16', provider_cfg(tmp_path / 'x'))
    with pytest.raises(ConfigError, match='unknown weights provider'):
        resolve_clip_checkpoint('ViT-B-16', dict(type='NoSuchWeights'), model_cfg=TINY)
    with pytest.raises(ConfigError, match='type'):
        resolve_clip_checkpoint('ViT-B-16', dict(cache_dir='x'), model_cfg=TINY)
    foreign = tmp_path / 'photos'
    foreign.mkdir()
    (foreign / 'holiday.jpg').write_bytes(b'')
    with pytest.raises(DataError, match='not a demo CLIP cache'):
        build(foreign).resolve(model_cfg=TINY)
