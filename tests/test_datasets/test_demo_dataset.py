"""The embedded demo data: deterministic generation, concurrency safety, the dataset."""
import hashlib
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sair_toolbox.datasets import DemoDataset
from sair_toolbox.datasets.demo_scenes import DEMO_CLASSES, ensure_demo_data, render_scene
from sair_toolbox.registry import DATASETS
from sair_toolbox.structures import InpaintDataSample
from sair_toolbox.utils.errors import DataError

SMALL_DEMO = dict(image_size=32, num_train=24, num_val=6, seed=0)  # as conftest's demo_args

REPO = Path(__file__).resolve().parents[2]
PIPELINE = [dict(type='LoadImage'), dict(type='LoadLabelMap'), dict(type='GenerateMask'),
            dict(type='PackInpaintInputs')]


def _tree_hash(root):
    h = hashlib.sha256()
    for path in sorted(Path(root).rglob('*')):
        if path.is_file():
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def test_generation_is_byte_identical_and_fast(tmp_path):
    args = dict(image_size=64, num_train=60, num_val=10, seed=3)
    start = time.time()
    assert ensure_demo_data(str(tmp_path / 'a'), **args)
    elapsed = time.time() - start
    assert ensure_demo_data(str(tmp_path / 'b'), **args)
    assert _tree_hash(tmp_path / 'a') == _tree_hash(tmp_path / 'b')
    assert elapsed < 3.0  # 70 images; the default 440 stay well under 10 s
    assert not ensure_demo_data(str(tmp_path / 'a'), **args)  # reuse, no regeneration
    meta = json.loads((tmp_path / 'a' / 'meta.json').read_text())
    assert meta['classes'] == list(DEMO_CLASSES) and meta['splits'] == {'train': 60, 'val': 10}
    leftovers = [p for p in os.listdir(tmp_path) if p.startswith('.')]
    assert leftovers == []  # no temporary folders left behind


def test_other_seed_gives_other_images(tmp_path):
    a = render_scene(32, np.random.default_rng(np.random.SeedSequence([0, 0, 1])))
    b = render_scene(32, np.random.default_rng(np.random.SeedSequence([1, 0, 1])))
    assert not np.array_equal(a[0], b[0])


def test_scene_labels_are_consistent_with_colours():
    img, lab = render_scene(64, np.random.default_rng(0))
    assert img.shape == (64, 64, 3) and lab.shape == (64, 64) and lab.max() < len(DEMO_CLASSES)
    # a class's pixels are closer to that class's mean colour than most others' are
    sky = img[lab == DEMO_CLASSES.index('sky')].mean(0)
    grass = img[lab == DEMO_CLASSES.index('grass')].mean(0)
    assert sky[2] > sky[1] and grass[1] > grass[2]


def _generate(root, queue):
    try:
        queue.put(ensure_demo_data(root, **SMALL_DEMO))
    except Exception as exc:  # pragma: no cover - reported to the parent
        queue.put(repr(exc))


def test_two_processes_at_once(tmp_path):
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
    assert results in ([False, True], [True, True]), results  # both succeeded
    ref = tmp_path / 'ref'
    ensure_demo_data(str(ref), **SMALL_DEMO)
    assert _tree_hash(root) == _tree_hash(ref)
    assert [p for p in os.listdir(tmp_path) if p.startswith('.')] == []


def test_foreign_or_mismatched_folder_is_data_error(tmp_path, demo_root):
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'x.txt').write_text('x')
    with pytest.raises(DataError, match='foreign'):
        DemoDataset(data_root=str(foreign), **SMALL_DEMO)
    with pytest.raises(DataError, match='image_size'):
        DemoDataset(data_root=demo_root, **dict(SMALL_DEMO, image_size=48))
    with pytest.raises(DataError, match='make_demo_data'):
        DemoDataset(data_root=str(tmp_path / 'none'), auto_generate=False, **SMALL_DEMO)


def test_dataset_and_packed_sample(demo_root):
    ds = DATASETS.build(dict(type='DemoDataset', data_root=demo_root, split='val',
                             test_mode=True, pipeline=PIPELINE, **SMALL_DEMO))
    assert len(ds) == 6 and ds.metainfo['classes'] == DEMO_CLASSES
    out = ds[4]
    inputs, sample = out['inputs'], out['data_samples']
    assert isinstance(sample, InpaintDataSample)
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 32, 32)
    assert sample.mask.dtype == torch.float32 and sample.mask.shape == (1, 32, 32)
    assert set(sample.mask.unique().tolist()) <= {0.0, 1.0}
    assert sample.gt_sem_seg.dtype == torch.int64 and sample.gt_sem_seg.shape == (32, 32)
    assert sample.gt_sem_seg.max() < len(DEMO_CLASSES)
    assert sample.img_path.endswith('val/images/00004.png')
    assert sample.ori_shape == (32, 32) and sample.sample_idx == 4
    assert sample.mask_ratio == pytest.approx(float(sample.mask.mean()))
    assert sample.mask_bin == '20-40'  # sample 4 -> bin 4 % 3 = 1
    assert sample.mask_source == 'procedural'
    stored = np.array(Image.open(sample.img_path).convert('RGB'))
    assert torch.equal(inputs, torch.from_numpy(stored).permute(2, 0, 1))
    sample_again = ds[4]['data_samples']
    assert torch.equal(sample.mask, sample_again.mask)


def test_make_demo_data_tool(tmp_path, capsys):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, str(REPO / 'tools' / 'make_demo_data.py'), '--out',
           str(tmp_path / 'd'), '--size', '32', '--num-train', '5', '--num-val', '2']
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(os.listdir(tmp_path / 'd' / 'train' / 'images')) == 5
    # settings that differ from the data on disk: one-line error, status 2 (in-process: fast)
    import importlib.util
    spec = importlib.util.spec_from_file_location('make_demo_data_tool', cmd[1])
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    with pytest.raises(SystemExit) as exit_info:
        tool.main(cmd[2:-6] + ['--size', '48'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'other settings' in err[0] and 'image_size' in err[0]
