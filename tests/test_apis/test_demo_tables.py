"""The paper-in-miniature pipeline end to end on a shrunk scale: tables, JSON and figures."""
import json
import os.path as osp
import warnings

import pytest

from sair_toolbox.apis import demo_tables
from tests.test_configs.shrink import shrink


@pytest.fixture
def tiny_load_cfg(tmp_path, monkeypatch):
    """Every variant's config as written, scaled down and pointed at a tiny demo data set."""
    real = demo_tables._load_cfg
    data = dict(data_root=str(tmp_path / 'demo'), image_size=32, num_train=8, num_val=6)

    def load(variant, work_dir, options, done):
        cfg = real(variant, work_dir, options, done)
        cfg.model = shrink(cfg.model.to_dict())
        if cfg.model.get('num_queries'):
            cfg.model.num_queries = 128
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(key):
                cfg[key].update(batch_size=3, num_workers=0, persistent_workers=False)
                cfg[key].dataset.update(data)
        return cfg

    monkeypatch.setattr(demo_tables, '_load_cfg', load)


def test_tables_and_figures(tmp_path, tiny_load_cfg):
    out = tmp_path / 'out'
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random-init warnings of the shrunk encoders
        results = demo_tables.run_demo_tables(str(out), str(tmp_path / 'work'), iters=5,
                                              names=['SAIR', 'LIIF'],
                                              log=lines.append)
    assert list(results) == ['SAIR', 'LIIF']
    assert any('[1/2] SAIR' in line for line in lines)
    tables = (out / 'tables.md').read_text()
    for title in ('Tab. 1', 'Tab. 4', 'Tab. 5', 'Tab. 6', 'field zeroed'):
        assert title in tables
    saved = json.loads((out / 'results.json').read_text())
    assert saved['iters'] == 5
    sair = saved['results']['SAIR']
    assert set(sair['metrics']) >= {'all/PSNR', '0-20/PSNR', '20-40/SSIM', '40-60/L1'}
    assert 0 <= sair['segmentation']['with_sir']['hole']['mIoU'] <= 1
    assert sair['diagnostics']['field_rms'] > 0
    assert 'segmentation' not in saved['results']['LIIF']
    for fig in ('fig3_label_maps.png', 'fig4_curves.png'):
        assert osp.getsize(out / fig) > 1000
    # One schedule for all: the same number of iterations in every run's checkpoint name.
    assert all(r['checkpoint'].endswith('iter_5.pth') for r in saved['results'].values())


def test_one_schedule_and_the_stage_one_checkpoint(tmp_path):
    variants = {v.name: v for v in demo_tables.VARIANTS}
    options = demo_tables.schedule_options(200)
    done = {'SIR stage 1': dict(checkpoint='stage1/iter_200.pth')}
    cfgs = {n: demo_tables._load_cfg(v, str(tmp_path / n), options, done)
            for n, v in variants.items()}
    assert cfgs['SAIR two-stage'].model.sir.init_cfg.checkpoint == 'stage1/iter_200.pth'
    assert cfgs['SAIR two-stage'].model.sir.frozen
    for cfg in cfgs.values():  # nothing tuned per variant
        assert cfg.train_cfg.max_iters == 200 and cfg.randomness.seed == 0
        assert cfg.param_scheduler.milestones == [150]
        assert cfg.optim_wrapper == cfgs['SAIR'].optim_wrapper
