"""DemoSAMWeights: class-agnostic, deterministic pretraining of a demo-size SAM image encoder,
a self-healing cache, SAMEncoder's normal checkpoint path, the global RNG left alone."""
import json
import logging
import os
import random
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config

from sair_toolbox.models.semantic_encoders.sam import SAMEncoder
from sair_toolbox.models.weights_providers import demo_sam_pretraining
from sair_toolbox.models.weights_providers.demo_sam_weights import (DEMO_SAM_VERSION, META_FILE,
                                                                    WEIGHTS_FILE, DemoSAMWeights)
from sair_toolbox.registry import MODELS
from sair_toolbox.utils.errors import ConfigError, DataError

#: 32 x 32 scenes, patch 8 (a 4 x 4 grid), one global block: a second or two of pretraining.
ARCH = dict(embed_dim=16, depth=1, num_heads=1, global_attn_indexes=(0, ), window_size=0,
            out_chans=16, patch_size=8)
IMG = 32
RECIPE = dict(num_scenes=8, steps=3, batch_size=4, warmup=1, pixels_per_image=16, num_val=4,
              num_threads=1)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))


def provider_cfg(cache_dir, **kwargs):
    return dict(type='DemoSAMWeights', cache_dir=str(cache_dir), **dict(RECIPE, **kwargs))


def encoder(cache_dir, **kwargs):
    """A SAMEncoder whose checkpoint comes from the provider (the config's path)."""
    return SAMEncoder(checkpoint=provider_cfg(cache_dir, **kwargs), img_size=IMG, model_cfg=ARCH)


def arch_cfg():
    """The architecture as SAMEncoder hands it to its provider."""
    return dict(embed_dim=16, depth=1, num_heads=1, global_attn_indexes=[0], window_size=0,
                mlp_ratio=4.0, out_chans=16, patch_size=8, img_size=IMG)


def provider(cache_dir, **kwargs):
    return DemoSAMWeights(**{k: v for k, v in provider_cfg(cache_dir, **kwargs).items()
                             if k != 'type'})


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp('demo_sam') / 'demo_sam'
    enc = encoder(folder)
    return folder, enc


def cache_lines(records):
    return [r for r in records if 'demo SAM cache' in r.getMessage()]


def test_cache_is_written(cache):
    folder, enc = cache
    assert sorted(os.listdir(folder)) == sorted([META_FILE, WEIGHTS_FILE])
    meta = json.loads((folder / META_FILE).read_text())
    assert meta['version'] == DEMO_SAM_VERSION
    assert meta['model_cfg'] == arch_cfg() and meta['params']['steps'] == 3
    result = meta['result']
    assert 0 <= result['val_pair_auc'] <= 1 and 0 <= result['init_pair_auc'] <= 1
    assert np.isfinite(result['loss'])
    assert enc.checkpoint == str(folder / WEIGHTS_FILE)
    assert not [p for p in os.listdir(folder.parent) if '.tmp' in p]


def test_checkpoint_is_a_sam_file_loaded_by_sam_encoder(cache):
    folder, enc = cache
    state = torch.load(folder / WEIGHTS_FILE, weights_only=True)
    assert state and all(k.startswith('image_encoder.') for k in state)
    own = enc.image_encoder.state_dict()
    assert set(own) == {k[len('image_encoder.'):] for k in state}
    for key, value in own.items():
        assert torch.equal(value, state['image_encoder.' + key]), key
    # The same weights as a plain path load, frozen, features of the demo grid and width.
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no random-init warning
        plain = SAMEncoder(checkpoint=str(folder / WEIGHTS_FILE), img_size=IMG, model_cfg=ARCH)
    img = torch.rand(2, 3, IMG, IMG, generator=torch.Generator().manual_seed(0))
    out = enc(img)
    assert out.shape == (2, 16, 4, 4) and torch.equal(out, plain(img))
    assert not any(p.requires_grad for p in enc.parameters())


def test_pretraining_trains_the_encoder(cache, tmp_path):
    folder, _ = cache
    init = demo_sam_pretraining._init_state(IMG, ARCH, seed=0)
    trained = torch.load(folder / WEIGHTS_FILE, weights_only=True)
    changed = {k for k in init if not torch.equal(init[k], trained['image_encoder.' + k])}
    assert any(k.startswith('blocks.0.attn') for k in changed)
    assert any(k.startswith('neck') for k in changed) and 'pos_embed' in changed


def test_reloaded_without_retraining(cache, monkeypatch):
    folder, enc = cache

    def fail(*args, **kwargs):
        raise AssertionError('pretrained again')

    monkeypatch.setattr(demo_sam_pretraining, 'pretrain_demo_sam', fail)
    again = encoder(folder)
    for key, value in enc.image_encoder.state_dict().items():
        assert torch.equal(value, again.image_encoder.state_dict()[key])


def test_pretraining_is_deterministic_bitwise(cache, tmp_path):
    folder, _ = cache
    encoder(tmp_path / 'again')
    assert (folder / WEIGHTS_FILE).read_bytes() == (tmp_path / 'again' / WEIGHTS_FILE).read_bytes()


def test_global_rng_and_threads_untouched(tmp_path):
    """A first run (pretraining) and a later run (cache present) see the same global RNG."""
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    provider(tmp_path / 'fresh').resolve(model_cfg=arch_cfg())  # pretrains
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1])
    assert random.getstate() == before[2]
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == det

    # Building an encoder from an empty cache draws from the global RNG exactly as building it
    # from the cache (SAM's module init), so what comes after is the same.
    torch.manual_seed(0)
    encoder(tmp_path / 'first')
    first = torch.rand(4)
    torch.manual_seed(0)
    encoder(tmp_path / 'first')
    assert torch.equal(torch.rand(4), first)


@pytest.mark.parametrize('damage,word', [
    (lambda folder: (folder / WEIGHTS_FILE).write_bytes(b'garbage'), 'checksum'),
    (lambda folder: (folder / META_FILE).write_text('{not json'), META_FILE),
])
def test_corrupt_cache_is_rebuilt_with_one_line(cache, tmp_path, caplog, damage, word):
    folder = tmp_path / 'demo_sam'
    good = provider(folder).resolve(model_cfg=arch_cfg())
    reference = open(good, 'rb').read()
    damage(folder)
    provider(folder).resolve(model_cfg=arch_cfg())
    lines = cache_lines(caplog)
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert 'corrupt' in lines[0].getMessage() and word in lines[0].getMessage()
    assert open(good, 'rb').read() == reference
    del caplog[:]
    provider(folder).resolve(model_cfg=arch_cfg())
    assert not cache_lines(caplog)


def test_stale_cache_is_rebuilt_with_one_line(tmp_path, caplog):
    folder = tmp_path / 'demo_sam'
    provider(folder).resolve(model_cfg=arch_cfg())
    provider(folder, steps=2).resolve(model_cfg=arch_cfg())
    lines = cache_lines(caplog)
    assert len(lines) == 1 and 'stale (other params)' in lines[0].getMessage()
    assert json.loads((folder / META_FILE).read_text())['params']['steps'] == 2
    assert provider(folder, steps=2).check(dict(arch_cfg(), out_chans=8)) == \
        'stale (other model_cfg)'


def test_provider_errors(tmp_path):
    with pytest.raises(ConfigError, match='architecture'):
        provider(tmp_path / 'x').resolve()
    with pytest.raises(ConfigError, match='img_size'):
        provider(tmp_path / 'x').resolve(model_cfg=ARCH)
    with pytest.raises(ConfigError, match='unknown options'):
        DemoSAMWeights(cache_dir=str(tmp_path / 'x'), step=3)
    with pytest.raises(ConfigError, match='unknown weights provider'):
        SAMEncoder(checkpoint=dict(type='NoSuchWeights'), img_size=IMG, model_cfg=ARCH)
    foreign = tmp_path / 'photos'
    foreign.mkdir()
    (foreign / 'holiday.jpg').write_bytes(b'')
    with pytest.raises(DataError, match='not a demo SAM cache'):
        provider(foreign).resolve(model_cfg=arch_cfg())


def test_regions_are_class_agnostic_components():
    # Two separate blobs of one class are two regions; the class index does not matter.
    lab = torch.zeros(1, 6, 6, dtype=torch.long)
    lab[0, 1:3, 1:3] = 7
    lab[0, 4:6, 4:6] = 7
    reg = demo_sam_pretraining.region_maps(lab)
    assert len(torch.unique(reg)) == 3
    assert reg[0, 1, 1] != reg[0, 4, 4] and reg[0, 1, 1] == reg[0, 2, 2]
    relabelled = demo_sam_pretraining.region_maps(torch.where(lab == 7, 3, 9))
    assert torch.equal(relabelled != relabelled[:, :1, :1], reg != reg[:, :1, :1])
    edge = demo_sam_pretraining.boundary_maps(reg)
    assert edge[0, 1, 1] and edge[0, 0, 1] and not edge[0, 0, 5] and not edge[0, 5, 5]


def test_affinity_loss_prefers_grouped_embeddings():
    reg = torch.tensor([[[0, 0, 1, 1]]])  # (1, 1, 4): two regions
    idx = torch.arange(4)[None]
    grouped = torch.tensor([[[[1., 1., -1., -1.]], [[0., 0., 0., 0.]]]])  # (1, 2, 1, 4)
    mixed = torch.tensor([[[[1., -1., 1., -1.]], [[0., 0., 0., 0.]]]])
    loss = demo_sam_pretraining.affinity_loss
    assert loss(grouped, reg, idx, 0.1) < 1e-3 < loss(mixed, reg, idx, 0.1)


def test_sam_demo_config_builds_and_trains(tmp_path):
    """configs/sair/ablations/sair-sam_demo.py: a SAMEncoder at demo size whose checkpoint comes
    from DemoSAMWeights. Built with the provider (tiny recipe and architecture, the other
    components shrunk as the config tests do): one loss + backward."""
    from sair_toolbox.registry import SEMANTIC_ENCODERS, WEIGHTS_PROVIDERS
    from sair_toolbox.structures import InpaintDataSample
    from tests.test_configs.shrink import shrink
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/sair/ablations/sair-sam_demo.py'))
    enc_cfg = cfg.model.sir.encoder.to_dict()
    assert enc_cfg['type'] == 'SAMEncoder' and enc_cfg['checkpoint']['type'] == 'DemoSAMWeights'
    assert 'pretrained' not in enc_cfg
    assert isinstance(WEIGHTS_PROVIDERS.build(enc_cfg['checkpoint']), DemoSAMWeights)
    # The demo architecture itself: the demo CLIP's grid (16 x 16) and width (64).
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random init
        full = SEMANTIC_ENCODERS.build(dict(enc_cfg, checkpoint=None))
    assert full(torch.rand(1, 3, 64, 64)).shape == (1, 64, 16, 16)

    model_cfg = shrink(cfg.model.to_dict())
    model_cfg['sir']['encoder'] = dict(type='SAMEncoder', arch='vit_b', img_size=IMG,
                                       model_cfg=ARCH, checkpoint=provider_cfg(tmp_path / 'sam'))
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    assert model.sir.encoder.checkpoint == str(tmp_path / 'sam' / WEIGHTS_FILE)
    model.train()
    gen = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(2):
        sample = InpaintDataSample()
        sample.mask = (torch.rand(1, IMG, IMG, generator=gen) > 0.6).float()
        samples.append(sample)
    inputs = [torch.randint(0, 256, (3, IMG, IMG), generator=gen, dtype=torch.uint8)
              for _ in range(2)]
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)
    losses = model(**data, mode='loss')
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert not any(p.requires_grad for p in model.sir.encoder.parameters())
