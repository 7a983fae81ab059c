"""The knowledge-gap demo world (issue 25): determinism, cache, split, and that category
structure cannot be read off colour (the issue's acceptance test)."""
import hashlib
import json
import multiprocessing as mp
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from sair_toolbox.datasets import DemoDataset
from sair_toolbox.datasets import knowledge_scenes as ks
from sair_toolbox.datasets.demo_scenes import check_demo_data, ensure_demo_data
from sair_toolbox.datasets.knowledge_scenes import (MIN_CATEGORIES, NUM_STUFF,
                                                    KnowledgeEncoderScenes, category_names,
                                                    category_specs, check_knowledge_data,
                                                    ensure_knowledge_data, knowledge_classes,
                                                    knowledge_palette, render_knowledge_scene,
                                                    render_purpose_scenes, seen_categories)
from sair_toolbox.registry import DATASETS
from sair_toolbox.utils.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]
#: Small knowledge data: train and val written, 10 encoder scenes in chunks of 4.
SMALL = dict(image_size=32, num_train=8, num_val=6, seed=0, num_categories=60, num_seen=25,
             num_encoder=10, encoder_chunk=4)
PIPELINE = [dict(type='LoadImage'), dict(type='LoadLabelMap'), dict(type='GenerateMask'),
            dict(type='PackInpaintInputs',
                 meta_keys=('img_path', 'sample_idx', 'category_group', 'categories'))]


def _tree_hash(root):
    h = hashlib.sha256()
    for path in sorted(Path(root).rglob('*')):
        if path.is_file():
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope='module')
def knowledge_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('knowledge') / 'k'
    ensure_knowledge_data(str(root), **SMALL)
    return str(root)


def test_categories_names_and_palette():
    names = category_names(60)
    assert len(names) == 60 >= MIN_CATEGORIES and len(set(names)) == 60
    assert all(re.fullmatch(r'([bdfgklmnprstvz][aeiou]){2,3}[nrsl]?', n) for n in names)
    assert category_names(80)[:60] == names  # a name does not depend on the count
    assert knowledge_classes(60) == ('sky', 'ground') + names
    assert len(knowledge_palette(60)) == 62
    specs = category_specs(60)
    assert specs == category_specs(60)  # fixed by the version, not by the data seed
    keys = {json.dumps(s, sort_keys=True) for s in specs}
    assert len(keys) == 60
    assert all(1 <= len(s['parts']) <= 3 for s in specs)
    with pytest.raises(DataError, match='num_categories'):
        ensure_knowledge_data('/nonexistent/x', **dict(SMALL, num_categories=20))


def test_generation_is_deterministic_and_cached(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    assert ensure_knowledge_data(a, **SMALL)
    assert ensure_knowledge_data(b, **SMALL)
    assert _tree_hash(a) == _tree_hash(b)
    assert not ensure_knowledge_data(a, **SMALL)  # reuse
    meta = json.loads(Path(a, 'meta.json').read_text())
    assert meta['world'] == 'knowledge' and meta['version'] == ks.KNOWLEDGE_VERSION
    assert meta['splits'] == {'train': 8, 'val': 6, 'encoder': 10}
    assert meta['seen'] == list(seen_categories(60, 25, 0)) and len(meta['seen']) == 25
    assert meta['num_categories'] == 60 and meta['classes'] == list(knowledge_classes(60))
    assert len(os.listdir(Path(a, 'train', 'images'))) == 8
    assert len(os.listdir(Path(a, 'val', 'parts'))) == 6
    assert os.listdir(Path(a, 'encoder')) == []  # encoder chunks are written on first use
    assert [p for p in os.listdir(tmp_path) if p.startswith('.')] == []
    # scene i depends on (seed, purpose, i): other index, seed or purpose -> other scene
    seen = seen_categories(60, 25, 0)
    ref = render_knowledge_scene(32, 0, 'train', 3, seen)
    again = render_knowledge_scene(32, 0, 'train', 3, seen)
    assert all(np.array_equal(x, y) for x, y in zip(ref[:3], again[:3])) and ref[3] == again[3]
    for other in (render_knowledge_scene(32, 0, 'train', 4, seen),
                  render_knowledge_scene(32, 1, 'train', 3, seen),
                  render_knowledge_scene(32, 0, 'encoder', 3, seen)):
        assert not np.array_equal(ref[0], other[0])


def _generate(root, queue):
    try:
        queue.put(ensure_knowledge_data(root, **SMALL))
    except Exception as exc:  # pragma: no cover - reported to the parent
        queue.put(repr(exc))


def test_two_processes_at_once(tmp_path, knowledge_root):
    root = str(tmp_path / 'shared')
    os.makedirs(root)  # an empty folder counts as "no data"
    ctx = mp.get_context('fork')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_generate, args=(root, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    results = sorted(queue.get(timeout=5) for _ in procs)
    assert results in ([False, True], [True, True]), results
    assert [p for p in os.listdir(tmp_path) if p.startswith('.')] == []
    assert check_knowledge_data(root, **SMALL)
    assert (Path(root, 'meta.json').read_bytes()
            == Path(knowledge_root, 'meta.json').read_bytes())
    assert (Path(root, 'val', 'objects.json').read_bytes()
            == Path(knowledge_root, 'val', 'objects.json').read_bytes())


def test_other_settings_are_refused(tmp_path, knowledge_root, monkeypatch):
    with pytest.raises(DataError, match='num_seen'):
        check_knowledge_data(knowledge_root, **dict(SMALL, num_seen=30))
    with pytest.raises(DataError, match='encoder'):
        check_knowledge_data(knowledge_root, **dict(SMALL, num_encoder=20))
    monkeypatch.setattr(ks, 'KNOWLEDGE_VERSION', ks.KNOWLEDGE_VERSION + 1)
    with pytest.raises(DataError, match='version'):
        check_knowledge_data(knowledge_root, **SMALL)
    monkeypatch.undo()
    # the two worlds never take each other's folders
    landscape = str(tmp_path / 'landscape')
    ensure_demo_data(landscape, image_size=32, num_train=2, num_val=1, seed=0)
    with pytest.raises(DataError, match='other settings'):
        check_knowledge_data(landscape, **SMALL)
    with pytest.raises(DataError, match='other settings'):
        check_demo_data(knowledge_root, image_size=32, num_train=8, num_val=6, seed=0)
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'x.txt').write_text('x')
    with pytest.raises(DataError, match='no meta.json'):
        ensure_knowledge_data(str(foreign), **SMALL)


def test_encoder_scenes_are_chunked_lazily(tmp_path, knowledge_root):
    scenes = KnowledgeEncoderScenes(knowledge_root, **SMALL)
    assert len(scenes) == 10 and scenes.num_chunks == 3
    first = scenes[5]  # chunk 1 only
    assert sorted(os.listdir(Path(knowledge_root, 'encoder'))) == ['chunk_00001.npz']
    ref = render_purpose_scenes(0, 10, 32, 0, 'encoder')
    assert np.array_equal(first['img'], ref['images'][5]) and first['record'] == ref['records'][5]
    chunks = list(scenes.iter_chunks())
    assert [len(c['images']) for c in chunks] == [4, 4, 2]
    assert np.array_equal(np.concatenate([c['labels'] for c in chunks]), ref['labels'])
    assert np.array_equal(np.concatenate([c['parts'] for c in chunks]), ref['parts'])
    # a fresh root writes byte-identical chunks; a fresh reader reads the cached ones
    other = KnowledgeEncoderScenes(str(tmp_path / 'other'), **SMALL)
    other.chunk(2)
    assert (Path(knowledge_root, 'encoder', 'chunk_00002.npz').read_bytes()
            == Path(other.chunk_path(2)).read_bytes())
    assert np.array_equal(KnowledgeEncoderScenes(knowledge_root, **SMALL)[9]['img'],
                          ref['images'][9])
    with pytest.raises(IndexError):
        scenes[10]


def test_layout_is_resolution_independent():
    seen = seen_categories(60, 25, 0)
    small = render_knowledge_scene(64, 0, 'val', 1, seen)
    large = render_knowledge_scene(256, 0, 'val', 1, seen)
    assert small[3] == large[3]  # the same objects in the same boxes
    agree = (large[1][2::4, 2::4] == small[1]).mean()  # the 256 px grid's samples nearest 64's
    assert agree > 0.97, agree
    parts = (large[2][2::4, 2::4] == small[2]).mean()
    assert parts > 0.95, parts


def test_split_holds():
    seen = set(seen_categories(60, 25, 0))
    assert len(seen) == 25
    train = render_purpose_scenes(0, 40, 32, 0, 'train')
    val = render_purpose_scenes(0, 20, 32, 0, 'val')
    enc = render_purpose_scenes(0, 150, 32, 0, 'encoder')

    def cats(d):
        return {o['category'] for r in d['records'] for o in r['objects']}

    train_labels = set(np.unique(train['labels']).tolist()) - {0, 1}
    assert cats(train) <= seen and {c - NUM_STUFF for c in train_labels} <= seen
    assert all(o['seen'] for r in train['records'] for o in r['objects'])
    assert cats(val) & seen and cats(val) - seen  # val holds both
    for i, rec in enumerate(val['records']):
        assert rec['group'] == ('seen' if i % 2 == 0 else 'unseen')
        assert all(o['seen'] == (rec['group'] == 'seen') for o in rec['objects'])
        present = set(np.unique(val['labels'][i]).tolist()) - {0, 1}
        assert present == {o['label'] for o in rec['objects']}  # every object is visible
    assert cats(enc) == set(range(60))  # the encoder's scenes cover every category
    assert all(2 <= len(r['objects']) <= 4 for r in enc['records'])


def _object_pixels(d):
    lab = d['labels'].reshape(-1).astype(np.int64) - NUM_STUFF
    keep = lab >= 0
    return d['images'].reshape(-1, 3)[keep].astype(np.int64), lab[keep]


def _colour_classifier(rgb, cat, num_categories, levels=16):
    """Per-pixel Bayes classifier on quantised RGB (levels^3 bins): the best a classifier that
    sees one pixel's colour can do on its training distribution."""
    def bins(x):
        return (x // (256 // levels)) @ np.array([levels * levels, levels, 1])
    counts = np.zeros((levels ** 3, num_categories))
    np.add.at(counts, (bins(rgb), cat), 1)
    fallback = np.bincount(cat, minlength=num_categories).argmax()
    table = np.where(counts.sum(1) > 0, counts.argmax(1), fallback)
    return lambda x: table[bins(x)]


def _position_part_classifier(d, num_categories, grid=8):
    """Per-pixel Bayes classifier on (position in the object's box, part value, the box's
    aspect ratio in 8 bins): no colour."""
    counts = np.zeros((grid * grid * len(ks.PART_NAMES) * 8, num_categories))
    keys, cats = _position_part_keys(d, grid)
    np.add.at(counts, (keys, cats), 1)
    table = counts.argmax(1)
    return lambda dd: (table[_position_part_keys(dd, grid)[0]], _position_part_keys(dd, grid)[1])


def _position_part_keys(d, grid):
    keys, cats = [], []
    size = d['labels'].shape[-1]
    centres = (np.arange(size) + 0.5) / size
    for i, rec in enumerate(d['records']):
        for o in rec['objects']:
            x0, y0, x1, y1 = o['box']
            m = d['labels'][i] == o['label']
            ys, xs = np.nonzero(m)
            gu = np.clip(((centres[xs] - x0) / (x1 - x0) * grid).astype(int), 0, grid - 1)
            gv = np.clip(((centres[ys] - y0) / (y1 - y0) * grid).astype(int), 0, grid - 1)
            aspect = int(np.clip((np.log((y1 - y0) / (x1 - x0)) + 0.55) / 1.1 * 8, 0, 7))
            keys.append(((gv * grid + gu) * len(ks.PART_NAMES) + d['parts'][i][m]) * 8 + aspect)
            cats.append(np.full(len(xs), o['category']))
    return np.concatenate(keys), np.concatenate(cats)


def _layout_descriptors(d, grid=12):
    """Per object: its part map sampled on a grid x grid lattice of its box (one-hot), its
    aspect ratio; with its category and its number of pixels."""
    feats, cats, npix = [], [], []
    size = d['labels'].shape[-1]
    for i, rec in enumerate(d['records']):
        for o in rec['objects']:
            x0, y0, x1, y1 = o['box']
            gy = np.clip((((np.arange(grid) + 0.5) / grid * (y1 - y0) + y0) * size).astype(int),
                         0, size - 1)
            gx = np.clip((((np.arange(grid) + 0.5) / grid * (x1 - x0) + x0) * size).astype(int),
                         0, size - 1)
            pm = d['parts'][i][np.ix_(gy, gx)]
            onehot = (pm[..., None] == np.arange(len(ks.PART_NAMES))).reshape(-1)
            feats.append(np.concatenate([onehot, [4 * np.log((y1 - y0) / (x1 - x0))] * 8]))
            cats.append(o['category'])
            npix.append(int((d['labels'][i] == o['label']).sum()))
    return np.array(feats, float), np.array(cats), np.array(npix)


def _nearest(train_feats, test_feats):
    d2 = (train_feats ** 2).sum(1)[None] - 2 * test_feats @ train_feats.T
    return d2.argmin(1)


def test_colour_cannot_tell_categories_structure_can(capsys):
    """The acceptance test of issue 25, at 64 px: 40 inpainter scenes (25 seen categories),
    300 encoder scenes (all 60), 60 val scenes (30 seen, 30 unseen)."""
    n_cat, size = 60, 64
    seen = np.array(seen_categories(n_cat, 25, 0))
    train = render_purpose_scenes(0, 40, size, 0, 'train')
    enc = render_purpose_scenes(0, 300, size, 0, 'encoder')
    val = render_purpose_scenes(0, 60, size, 0, 'val')
    rgb_v, cat_v = _object_pixels(val)
    is_seen = np.isin(cat_v, seen)
    acc = {}
    # colour trained on the inpainter's scenes: cannot name unseen categories, and even on the
    # seen ones it is at chance (1 / 25)
    colour_tr = _colour_classifier(*_object_pixels(train), n_cat)
    hit = colour_tr(rgb_v) == cat_v
    acc['colour(inpainter scenes) seen'] = hit[is_seen].mean()
    acc['colour(inpainter scenes) unseen'] = hit[~is_seen].mean()
    # colour trained on the encoder's scenes (all 60 categories, 300 scenes): still near 1 / 60
    colour_enc = _colour_classifier(*_object_pixels(enc), n_cat)
    hit = colour_enc(rgb_v) == cat_v
    acc['colour(encoder scenes) seen'] = hit[is_seen].mean()
    acc['colour(encoder scenes) unseen'] = hit[~is_seen].mean()
    # no colour: the pixel's position in its object's box, its part value, the box's aspect
    pred, truth = _position_part_classifier(enc, n_cat)(val)
    pos_seen = np.isin(truth, seen)
    acc['position+part(encoder) seen'] = (pred == truth)[pos_seen].mean()
    acc['position+part(encoder) unseen'] = (pred == truth)[~pos_seen].mean()
    # the object's whole part layout (nearest encoder object), scored per pixel
    f_e, c_e, _ = _layout_descriptors(enc)
    f_v, c_v, n_v = _layout_descriptors(val)
    right = (c_e[_nearest(f_e, f_v)] == c_v) * n_v
    obj_seen = np.isin(c_v, seen)
    acc['layout(encoder) seen'] = right[obj_seen].sum() / n_v[obj_seen].sum()
    acc['layout(encoder) unseen'] = right[~obj_seen].sum() / n_v[~obj_seen].sum()
    with capsys.disabled():
        print(f'\nknowledge world, per-pixel category accuracy on val object pixels '
              f'({is_seen.sum()} seen, {(~is_seen).sum()} unseen; chance 1/25 = 0.040 among '
              f'seen, 1/60 = 0.017 among all):')
        for k, v in acc.items():
            print(f'  {k:34s} {v:.3f}')
    assert acc['colour(inpainter scenes) unseen'] == 0.0  # it cannot even name them
    assert acc['colour(inpainter scenes) seen'] < 2.5 / 25
    assert acc['colour(encoder scenes) unseen'] < 4.0 / 60
    assert acc['colour(encoder scenes) seen'] < 4.0 / 60
    assert acc['position+part(encoder) unseen'] > 4 * acc['colour(encoder scenes) unseen']
    assert acc['layout(encoder) unseen'] > 0.9 and acc['layout(encoder) seen'] > 0.9


def test_dataset_option_and_pipeline(knowledge_root):
    ds = DATASETS.build(dict(type='DemoDataset', world='knowledge', data_root=knowledge_root,
                             split='val', test_mode=True, pipeline=PIPELINE, **SMALL))
    assert len(ds) == 6 and ds.metainfo['classes'] == knowledge_classes(60)
    assert len(ds.metainfo['palette']) == 62
    assert ds.metainfo['seen_labels'] == [NUM_STUFF + c for c in seen_categories(60, 25, 0)]
    assert sorted(ds.metainfo['seen_labels'] + ds.metainfo['unseen_labels']) == list(
        range(2, 62))
    out = ds[3]
    sample = out['data_samples']
    assert out['inputs'].dtype == torch.uint8 and out['inputs'].shape == (3, 32, 32)
    assert sample.gt_sem_seg.shape == (32, 32) and int(sample.gt_sem_seg.max()) < 62
    assert sample.category_group == 'unseen' and ds[2]['data_samples'].category_group == 'seen'
    objects = set((sample.gt_sem_seg.unique() - NUM_STUFF).tolist()) - {-2, -1}
    assert objects == set(sample.categories)
    assert not objects & set(seen_categories(60, 25, 0))
    assert sample.img_path.endswith('val/images/00003.png')
    train = DemoDataset(world='knowledge', data_root=knowledge_root, split='train', **SMALL)
    assert len(train) == 8 and all(i['category_group'] == 'seen' for i in train)
    with pytest.raises(ConfigError, match='knowledge'):
        DemoDataset(data_root=knowledge_root, num_seen=3)
    with pytest.raises(ConfigError, match='world'):
        DemoDataset(data_root=knowledge_root, world='moon')
    with pytest.raises(DataError, match='other settings'):
        DemoDataset(world='knowledge', data_root=knowledge_root, **dict(SMALL, num_seen=24))


def test_knowledge_config_builds_dataloaders(knowledge_root):
    name = 'test_knowledge_config'
    DefaultScope.get_instance(name, scope_name='sair_toolbox')
    try:
        cfg = Config.fromfile(str(REPO / 'configs' / '_base_' / 'datasets' /
                                  'demo_knowledge.py'))
        assert cfg.train_dataloader.dataset.world == 'knowledge'
        dl_cfg = cfg.val_dataloader.copy()
        dl_cfg.update(num_workers=0, persistent_workers=False, batch_size=3)
        dl_cfg.dataset.update(data_root=knowledge_root, **SMALL)
        loader = Runner.build_dataloader(dl_cfg, seed=0)
        batch = next(iter(loader))
        assert batch['inputs'][0].shape == (3, 32, 32)
        assert [s.category_group for s in batch['data_samples']] == ['seen', 'unseen', 'seen']
        assert loader.dataset.metainfo['classes'][2] == category_names(60)[0]
    finally:
        DefaultScope._instance_dict.pop(name, None)
