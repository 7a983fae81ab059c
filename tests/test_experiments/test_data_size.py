"""The data-size sweep: nested training sets, the same val images, SAIR − LIIF per size."""
import json
import os.path as osp
import warnings

import pytest

from sair_toolbox.experiments import data_size, demo_tables
from sair_toolbox.utils.errors import ConfigError
from tests.test_configs.shrink import shrink
from tests.test_experiments.test_demo_tables import random_feature_nets


def test_set_num_train_nests_the_sets_in_their_own_folder():
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(demo_tables.ROOT, 'configs/sair/sair_demo.py'))
    demo_tables.set_num_train(cfg, 400)  # the configs' own size: data/demo unchanged
    assert cfg.train_dataloader.dataset.data_root == 'data/demo'
    demo_tables.set_num_train(cfg, 1600)
    demo_tables.set_num_val(cfg, 120)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[key].dataset
        assert dataset.num_train == 1600 and dataset.data_root == 'data/demo_train1600_val120'
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match='num_train'):
            demo_tables.set_num_train(cfg, bad)


def test_nested_scenes_and_shared_val_images(tmp_path):
    import numpy as np
    from PIL import Image

    from sair_toolbox.datasets.demo_scenes import ensure_demo_data
    small, large = tmp_path / 'small', tmp_path / 'large'
    ensure_demo_data(str(small), image_size=16, num_train=2, num_val=2)
    ensure_demo_data(str(large), image_size=16, num_train=4, num_val=2)

    def pixels(root, split):
        paths = sorted(p for p in (root / split).rglob('*.png') if 'label' not in str(p))
        return [np.asarray(Image.open(p)) for p in paths]
    small_train, large_train = pixels(small, 'train'), pixels(large, 'train')
    assert small_train and len(large_train) == 2 * len(small_train)
    assert all((a == b).all() for a, b in zip(small_train, large_train))
    assert all((a == b).all() for a, b in zip(pixels(small, 'val'), pixels(large, 'val')))


@pytest.fixture
def tiny_sizes(tmp_path, monkeypatch):
    """The demo configs scaled down; each training-set size keeps its own tiny data folder."""
    real = demo_tables._load_cfg

    def load(variant, work_dir, options, done, num_train=None, **kwargs):
        cfg = real(variant, work_dir, options, done, num_train=num_train, **kwargs)
        cfg.model = shrink(cfg.model.to_dict())
        cfg.model.num_queries = 128
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[key].update(batch_size=3, num_workers=0, persistent_workers=False)
            cfg[key].dataset.update(data_root=str(tmp_path / f'demo{num_train}'),
                                    image_size=32, num_train=num_train, num_val=6)
        random_feature_nets(cfg)
        return cfg

    monkeypatch.setattr(demo_tables, '_load_cfg', load)


def _reusable_table(path, size, seeds):
    """A finished demo-tables output of SAIR and LIIF at ``size`` scenes (hand-made)."""
    results = {}
    for name, shift in (('SAIR', 0.4), ('LIIF', 0.0)):
        runs, per_image = {}, {}
        for seed in seeds:
            records = [dict(img_path=f'val/{i}.png', bin=('0-20', '20-40', '40-60')[i % 3],
                            PSNR=20.0 + i + shift + 0.05 * seed * (i % 2), SSIM=0.8, L1=0.05)
                       for i in range(6)]
            per_image[str(seed)] = records
            runs[str(seed)] = dict(metrics={'all/PSNR': sum(r['PSNR'] for r in records) / 6})
        results[name] = dict(runs=runs, per_image=per_image)
    path.mkdir()
    (path / 'results.json').write_text(json.dumps(dict(
        iters=5, seeds=list(seeds), num_val=6, num_train=size, results=results)))


def test_sweep_trains_each_size_reuses_a_matching_table_and_plots(tmp_path, tiny_sizes):
    _reusable_table(tmp_path / 'table', 6, [0, 1])
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        summary = data_size.run_data_size_sweep(
            str(tmp_path / 'out'), str(tmp_path / 'work'), sizes=[6, 3], seeds=[0, 1],
            iters=5, num_val=6, reuse_dir=str(tmp_path / 'table'), log=lines.append)
    assert list(summary) == [3, 6]
    assert any('6 scenes: SAIR and LIIF taken from' in line for line in lines)
    # Only size 3 trained: two rows x two seeds, in its own work dirs.
    trained = [line for line in lines if line.startswith('demo_tables: [')]
    assert len(trained) == 4
    assert osp.isdir(tmp_path / 'work' / 'n3' / 'seed1' / 'liif_demo')
    assert not osp.exists(tmp_path / 'work' / 'n6')
    for size in (3, 6):
        diff = summary[size]['difference']['all']
        assert diff['num_seeds'] == 2 and diff['num_images'] == 12
        assert set(summary[size]['rows']) == {'SAIR', 'LIIF'}
    assert summary[6]['difference']['all']['mean'] == pytest.approx(0.4)
    saved = json.loads((tmp_path / 'out' / 'sweep.json').read_text())
    assert saved['reused'] == {'6': str(tmp_path / 'table')} and set(saved['summary']) == {
        '3', '6'}
    text = (tmp_path / 'out' / 'sweep.md').read_text()
    assert '| 6 |' in text and '+0.40 dB [' in text
    assert osp.getsize(tmp_path / 'out' / 'datasize_sweep.png') > 1000
    assert (tmp_path / 'out' / 'n3' / 'tables.md').is_file()
    # The same sweep again (e.g. after a stop): each size's table continues, so a finished
    # sweep trains nothing and writes the same summary.
    lines.clear()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        again = data_size.run_data_size_sweep(
            str(tmp_path / 'out'), str(tmp_path / 'work'), sizes=[6, 3], seeds=[0, 1],
            iters=5, num_val=6, reuse_dir=str(tmp_path / 'table'), log=lines.append)
    assert any('nothing to train: all 4 runs' in line for line in lines)
    assert not any(line.startswith('demo_tables: [') for line in lines)
    assert json.loads((tmp_path / 'out' / 'sweep.json').read_text()) == saved
    assert again == summary
    with pytest.raises(ConfigError, match='sizes'):
        data_size.run_data_size_sweep(str(tmp_path / 'o'), sizes=[3, 3])


def test_reuse_needs_the_same_learning_rate_shape_and_no_overrides(tmp_path):
    _reusable_table(tmp_path / 'table', 6, [0, 1])  # the default 'step' schedule
    found = data_size.load_table_results(str(tmp_path / 'table'), 5, [0, 1], 6, 6)
    assert set(found) == {'SAIR', 'LIIF'}
    assert data_size.load_table_results(str(tmp_path / 'table'), 5, [0, 1], 6, 6,
                                        lr_schedule='paper') is None
    saved = json.loads((tmp_path / 'table' / 'results.json').read_text())
    saved.update(lr_schedule='paper', cfg_options={'model.sem_loss_weight': 0})
    (tmp_path / 'table' / 'results.json').write_text(json.dumps(saved))
    # Rows trained with a config override are not the plain rows of a sweep.
    assert data_size.load_table_results(str(tmp_path / 'table'), 5, [0, 1], 6, 6,
                                        lr_schedule='paper') is None
