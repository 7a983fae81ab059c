"""The paper-in-miniature pipeline end to end on a shrunk scale: seeds, per-image records,
paired comparisons, tables, JSON and figures."""
import json
import os.path as osp
import warnings

import pytest

from sair_toolbox.experiments import demo_tables
from sair_toolbox.utils.errors import ConfigError
from tests.test_configs.shrink import shrink


def random_feature_nets(cfg):
    """The demo-FID metrics with a random-weight DemoFeatureNet (no 1-minute pretraining)."""
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(key)
        for e in [evaluators] if isinstance(evaluators, dict) else (evaluators or []):
            if e.get('type') == 'DistributionMetric':
                e['feature_net'] = dict(type='DemoFeatureNet', pretrained=None)


@pytest.fixture
def tiny_load_cfg(tmp_path, monkeypatch):
    """Every variant's config as written, scaled down and pointed at a tiny demo data set."""
    real = demo_tables._load_cfg
    data = dict(data_root=str(tmp_path / 'demo'), image_size=32, num_train=8, num_val=6)

    def load(variant, work_dir, options, done, **kwargs):
        cfg = real(variant, work_dir, options, done, **kwargs)
        cfg.model = shrink(cfg.model.to_dict())
        if cfg.model.get('num_queries'):
            cfg.model.num_queries = 128
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(key):
                cfg[key].update(batch_size=3, num_workers=0, persistent_workers=False)
                cfg[key].dataset.update(data)
        random_feature_nets(cfg)
        return cfg

    monkeypatch.setattr(demo_tables, '_load_cfg', load)


def _run(tmp_path, names, seeds, lines):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random-init warnings of the shrunk encoders
        return demo_tables.run_demo_tables(str(tmp_path / 'out'), str(tmp_path / 'work'),
                                           iters=5, names=names, log=lines.append, seeds=seeds)


def test_seeded_tables_comparisons_and_figures(tmp_path, tiny_load_cfg):
    out = tmp_path / 'out'
    lines = []
    results = _run(tmp_path, ['SAIR', 'LIIF'], [0, 1], lines)
    assert list(results) == ['SAIR', 'LIIF']
    assert all(sorted(r['runs']) == [0, 1] for r in results.values())
    # Seed by seed; one progress line per (row, seed) with elapsed and remaining time.
    starts = [line for line in lines if line.startswith('demo_tables: [')]
    assert [s.split(' (')[0] for s in starts] == [
        'demo_tables: [1/4] SAIR seed 0', 'demo_tables: [2/4] LIIF seed 0',
        'demo_tables: [3/4] SAIR seed 1', 'demo_tables: [4/4] LIIF seed 1']
    done = [line for line in lines if ' done in ' in line and 'elapsed' in line]
    assert len(done) == 4 and 'left (3 of 4 runs to go)' in done[0]
    assert 'about 0 s left (0 of 4 runs to go)' in done[-1]
    # One work dir per (seed, row); the seeds reach the configs.
    assert results['SAIR']['runs'][1]['work_dir'] == osp.join(str(tmp_path / 'work'), 'seed1',
                                                              'sair_demo')
    tables = (out / 'tables.md').read_text()
    for title in ('Tab. 1', 'Tab. 4', 'Tab. 5', 'Tab. 6', 'field zeroed', 'Paired comparisons',
                  'SAIR \u2212 LIIF', 'seeds 0, 1', '\u00b1'):
        assert title in tables, title
    cmp_line = next(line for line in tables.splitlines() if line.startswith('| SAIR \u2212 LIIF'))
    assert cmp_line.count('[') == 4 and ('(n.s.)' in cmp_line or '(*)' in cmp_line)
    saved = json.loads((out / 'results.json').read_text())
    assert saved['iters'] == 5 and saved['seeds'] == [0, 1]
    sair = saved['results']['SAIR']
    assert set(sair['runs']) == {'0', '1'}
    metrics = sair['runs']['0']['metrics']
    assert set(metrics) >= {'all/PSNR', '0-20/PSNR', '20-40/SSIM', '40-60/L1'}
    # Every per-image score is kept, and reproduces the run's means.
    records = sair['per_image']['1']
    assert len(records) == 6 and {'img_path', 'bin', 'PSNR', 'SSIM', 'L1'} <= set(records[0])
    assert sum(r['PSNR'] for r in records) / 6 == pytest.approx(
        sair['runs']['1']['metrics']['all/PSNR'])
    # Another seed: other training (weights, masks), the same val images.
    assert sair['runs']['0']['metrics']['all/PSNR'] != sair['runs']['1']['metrics']['all/PSNR']
    assert [r['img_path'] for r in records] == [r['img_path'] for r in sair['per_image']['0']]
    summary = saved['summary']['SAIR']['all/PSNR']
    assert summary['num_seeds'] == 2 and summary['std'] > 0
    cmp = saved['comparisons']['SAIR \u2212 LIIF']['PSNR']
    assert set(cmp) == {'0-20', '20-40', '40-60', 'all'}
    assert cmp['all']['num_seeds'] == 2 and cmp['all']['num_images'] == 12
    assert cmp['all']['t_interval'][0] is not None
    assert isinstance(cmp['all']['distinguishable'], bool)
    assert 0 <= sair['runs']['0']['segmentation']['with_sir']['hole']['mIoU'] <= 1
    assert sair['runs']['0']['diagnostics']['field_rms'] > 0
    assert 'segmentation' not in saved['results']['LIIF']['runs']['0']
    for fig in ('fig3_label_maps.png', 'fig4_curves.png'):
        assert osp.getsize(out / fig) > 1000
    # One schedule for all: the same number of iterations in every run's checkpoint name.
    assert all(r['checkpoint'].endswith('iter_5.pth')
               for row in saved['results'].values() for r in row['runs'].values())
    # The convergence check reads the val curves of every run.
    assert set(saved['levelling']) == {'SAIR', 'LIIF'} and 'Convergence' in tables
    assert saved['num_train'] == 400 and saved['val_points'] == 5
    # --rewrite re-renders the same tables from results.json and the work dirs.
    demo_tables.rewrite_outputs(str(out))
    assert (out / 'tables.md').read_text() == tables
    assert json.loads((out / 'results.json').read_text()) == saved


def test_parallel_runs_give_the_bits_of_sequential_ones(tmp_path):
    """--jobs 2 (each run in its own process) and --jobs 1 on the same thread count: the same
    per-image scores; every run keeps its thread count and curves, so the tables and the
    convergence check re-render without the work dirs."""
    import functools
    import shutil

    from tests.test_experiments.tasks_for_workers import tiny_tables_cfg
    hook = functools.partial(tiny_tables_cfg, data_root=str(tmp_path / 'demo'))
    saved = {}
    for jobs in (1, 2):
        lines = []
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            demo_tables.run_demo_tables(
                str(tmp_path / f'out{jobs}'), str(tmp_path / f'work{jobs}'), iters=4,
                val_points=2, names=['SAIR', 'LIIF'], log=lines.append, seeds=[0, 1],
                jobs=jobs, threads=1, config_hook=hook)
        assert sum(' done in ' in line for line in lines) == 4
        saved[jobs] = json.loads((tmp_path / f'out{jobs}' / 'results.json').read_text())
    one, two = saved[1], saved[2]
    assert (one['jobs'], two['jobs'], one['threads'], two['threads']) == (1, 2, 1, 1)
    for name in ('SAIR', 'LIIF'):
        assert list(two['results'][name]['runs']) == ['0', '1']  # seed order
        assert two['results'][name]['per_image'] == one['results'][name]['per_image'], name
        for seed in ('0', '1'):
            run = two['results'][name]['runs'][seed]
            assert run['threads'] == 1
            assert [s for s, _ in run['curves']['all/PSNR']] == [2, 4]
            assert 'loss_rec' in run['curves'] and 'all/input_PSNR' not in run['curves']
    out = tmp_path / 'out2'
    tables = (out / 'tables.md').read_text()
    assert 'Torch threads per run: 1 (2 runs at a time).' in tables
    shutil.rmtree(tmp_path / 'work2')  # a clean checkout has results/, not work_dirs/
    demo_tables.rewrite_outputs(str(out))
    assert (out / 'tables.md').read_text() == tables
    assert json.loads((out / 'results.json').read_text())['levelling'] == two['levelling']
    assert set(two['levelling']) == {'SAIR', 'LIIF'}


def test_cfg_options_reach_every_row_and_the_outputs(tmp_path, tiny_load_cfg, monkeypatch):
    seen = {}
    load = demo_tables._load_cfg  # the tiny loader of the fixture

    def spy(variant, work_dir, options, done, **kwargs):
        cfg = load(variant, work_dir, options, done, **kwargs)
        seen[variant.name] = cfg.model.get('sem_loss_weight')
        return cfg
    monkeypatch.setattr(demo_tables, '_load_cfg', spy)
    out = tmp_path / 'out'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        demo_tables.run_demo_tables(str(out), str(tmp_path / 'work'), iters=2, val_points=1,
                                    names=['SAIR', 'LIIF'], log=lambda _: None, seeds=[0],
                                    cfg_options={'model.sem_loss_weight': 0.25})
    assert seen == {'SAIR': 0.25, 'LIIF': 0.25}  # LIIF has no SIR: the key changes nothing
    saved = json.loads((out / 'results.json').read_text())
    assert saved['cfg_options'] == {'model.sem_loss_weight': 0.25}
    tables = (out / 'tables.md').read_text()
    assert '`model.sem_loss_weight=0.25`' in tables
    demo_tables.rewrite_outputs(str(out))  # the overrides survive a --rewrite
    assert (out / 'tables.md').read_text() == tables


def test_sam_row_skips_the_text_side(tmp_path, tiny_load_cfg):
    lines = []
    results = _run(tmp_path, ['SAIR (SAM)'], [3], lines)
    run = results['SAIR (SAM)']['runs'][3]
    assert 'segmentation' not in run and '_model' not in run  # no text tower: no Tab. 5, Fig. 3
    assert run['diagnostics']['field_rms'] > 0 and len(run['per_image']) == 6
    tables = (tmp_path / 'out' / 'tables.md').read_text()
    assert 'SAIR (SAM)' in tables and 'Tab. 5' not in tables
    assert not (tmp_path / 'out' / 'fig3_label_maps.png').exists()


def test_cosine_schedule_decays_to_one_percent_for_every_row(tmp_path):
    import torch
    from mmengine.optim.scheduler import CosineAnnealingLR

    options = demo_tables.schedule_options(40, 4, lr_schedule='cosine')
    for variant in demo_tables.VARIANTS[:3]:
        cfg = demo_tables._load_cfg(variant, str(tmp_path / variant.name), options, {},
                                    seed=0, num_val=120)
        assert cfg.param_scheduler.type == 'CosineAnnealingLR'
        assert cfg.param_scheduler.T_max == 40 and 'milestones' not in cfg.param_scheduler
    sched = {k: v for k, v in demo_tables.lr_scheduler_cfg(40, 'cosine').items()
             if k not in ('_delete_', 'type')}
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=5e-4)
    scheduler = CosineAnnealingLR(opt, **sched)
    lrs = []
    for _ in range(40):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(5e-4) and lrs == sorted(lrs, reverse=True)
    # The last iteration runs one step short of the end value.
    assert lrs[-1] == pytest.approx(5e-4 * demo_tables.COSINE_END_RATIO, rel=0.2)
    with pytest.raises(ConfigError, match='lr_schedule'):
        demo_tables.schedule_options(40, lr_schedule='linear')


def test_paper_schedule_halves_at_half_time(tmp_path):
    """The paper's "halved every 100 epochs" of 200: one halving at 50 %, so the last fifth
    runs at one learning rate."""
    options = demo_tables.schedule_options(6000, 20, lr_schedule='paper')
    cfg = demo_tables._load_cfg(demo_tables.VARIANTS[1], str(tmp_path / 'liif'), options, {})
    assert cfg.param_scheduler.type == 'MultiStepLR'
    assert cfg.param_scheduler.milestones == [3000] and cfg.param_scheduler.gamma == 0.5
    assert cfg.train_cfg.val_interval == 300


def test_one_schedule_seeds_and_the_stage_one_checkpoint(tmp_path):
    variants = {v.name: v for v in demo_tables.VARIANTS}
    assert variants['SAIR (SAM)'].config.endswith('sair-sam_demo.py')
    assert not variants['SAIR (SAM)'].zero_shot and variants['SAIR'].zero_shot
    options = demo_tables.schedule_options(200)
    done = {'SIR stage 1': dict(checkpoint='seed2/stage1/iter_200.pth')}
    cfgs = {n: demo_tables._load_cfg(v, str(tmp_path / n), options, done, seed=2, num_val=120)
            for n, v in variants.items()}
    assert cfgs['SAIR two-stage'].model.sir.init_cfg.checkpoint == 'seed2/stage1/iter_200.pth'
    assert cfgs['SAIR two-stage'].model.sir.frozen
    for name, cfg in cfgs.items():  # nothing tuned per variant; one seed drives all streams
        assert cfg.train_cfg.max_iters == 200 and cfg.randomness.seed == 2
        assert cfg.param_scheduler.milestones == [150]
        if variants[name].config.endswith('gan_demo.py'):  # the L1 generator's optimizer
            assert cfg.optim_wrapper.generator == cfgs['SAIR'].optim_wrapper, name
        else:
            assert cfg.optim_wrapper == cfgs['SAIR'].optim_wrapper, name
        for dataset in demo_tables._datasets(cfg):
            assert dataset.data_seed == 2 and dataset.mask_seed == 2, name
            assert dataset.num_val == 120 and dataset.data_root == 'data/demo_val120', name
        if cfg.get('test_evaluator'):
            evaluators = cfg.test_evaluator
            evaluators = [evaluators] if isinstance(evaluators, dict) else evaluators
            types = [e['type'] for e in evaluators]
            assert all(e.get('keep_records') for e in evaluators
                       if e['type'] == 'InpaintingMetric') and 'InpaintingMetric' in types
            # The sharp-fills rows, L1 and GAN alike, are measured with the demo-FID family.
            assert (types.count('DistributionMetric') == 1) == (
                'gan' in variants[name].tables), name
    # The configs' own 40 val images keep data/demo (the README's demo numbers).
    cfg = demo_tables._load_cfg(variants['SAIR'], str(tmp_path / 'x'), options, {}, num_val=40)
    assert cfg.test_dataloader.dataset.data_root == 'data/demo'
    assert cfg.randomness.seed == 0 and cfg.test_dataloader.dataset.mask_seed == 0
    with pytest.raises(ConfigError, match='num_val'):
        demo_tables.set_num_val(cfg, 2)
    with pytest.raises(ConfigError, match='repeated'):
        demo_tables.run_demo_tables(str(tmp_path / 'o'), seeds=[1, 1], names=['LIIF'])


def _fake_run(seed, shift, with_sem=False):
    records = [dict(img_path=f'val/{i}.png', bin=('0-20', '20-40', '40-60')[i % 3],
                    PSNR=20.0 + i + shift + 0.01 * seed * (i % 2), SSIM=0.8, L1=0.05)
               for i in range(9)]
    bins = {b: [r for r in records if r['bin'] == b] for b in ('0-20', '20-40', '40-60')}
    bins['all'] = records
    metrics = {f'{b}/{m}': sum(r[m] for r in rs) / len(rs) for b, rs in bins.items()
               for m in ('PSNR', 'SSIM', 'L1')}
    run = dict(seed=seed, seconds=10.0 + seed, metrics=metrics, per_image=records)
    if with_sem:
        run['diagnostics'] = dict(metrics_field_zeroed=metrics, metrics_field_shuffled=metrics,
                                  field_rms=0.7, appearance_rms=0.2)
    return run


def test_format_tables_and_comparisons_without_training():
    results = {
        'SAIR': dict(runs={s: _fake_run(s, 0.5 + 0.1 * s, True) for s in (0, 1, 2)}),
        'LIIF': dict(runs={s: _fake_run(s, 0.0) for s in (0, 1, 2)}),
        'NFS': dict(runs={0: _fake_run(0, 0.5)}),  # a row still running: fewer seeds
    }
    cmp = demo_tables.compare_rows(results)
    assert list(cmp) == ['SAIR \u2212 LIIF', 'SAIR \u2212 NFS']
    sair_liif = cmp['SAIR \u2212 LIIF']['PSNR']['all']
    assert sair_liif.mean == pytest.approx(0.6, abs=0.01) and sair_liif.distinguishable
    assert cmp['SAIR \u2212 NFS']['PSNR']['all'].num_seeds == 1  # the common seeds
    assert not cmp['SAIR \u2212 LIIF']['SSIM']['all'].distinguishable  # equal SSIM
    text = demo_tables.format_tables(results, 20, (0, 1, 2), 120)
    assert '120 demo val images' in text and 'seeds 0, 1, 2' in text
    assert '| SAIR | 23.60 \u00b1 0.10 |' in text  # mean ± std over seeds
    assert '+0.60 dB [' in text and '(*)' in text
    assert 'SAIR \u2212 LIIF: distinguishable from zero in 0-20, 20-40, 40-60, all' in text
    assert 'Does AIR use the semantic field?' in text and 'Tab. 5' not in text
    assert '| NFS | 1 | 10 | 10 |' in text  # one seed: the mean alone
    assert '| NFS | 23.50 | 0.800 |' in text
    summary = demo_tables.summarize(results)
    assert summary['SAIR']['all/PSNR']['std'] == pytest.approx(0.1, abs=0.01)


def test_rewrite_without_curves_keeps_the_saved_checks_and_figures(tmp_path):
    """A results.json from before runs kept their curves, on a checkout without the work dirs:
    --rewrite keeps its convergence checks and leaves Fig. 4 as it is."""
    results = {n: dict(name=n, config='c.py', tables=['1'],
                       runs={s: dict(_fake_run(s, shift), work_dir=str(tmp_path / 'gone'))
                             for s in (0, 1)})
               for n, shift in (('SAIR', 0.5), ('LIIF', 0.0))}
    saved = dict(per_seed={'0': 0.1, '1': 0.2}, mean=0.15, std=0.07, levelled=False,
                 key='all/PSNR', fraction=0.2, level=0.05)
    setting = dict(iters=100, seeds=[0, 1], num_val=9, levelling={'SAIR': saved})
    demo_tables.write_outputs(str(tmp_path), results, setting)
    (tmp_path / 'fig4_curves.png').write_bytes(b'the committed figure')
    demo_tables.rewrite_outputs(str(tmp_path))
    out = json.loads((tmp_path / 'results.json').read_text())
    assert out['levelling'] == {'SAIR': saved}
    assert ('| SAIR | 0.150 ± 0.070 | - | 0: +0.100, 1: +0.200 | 0 of 2 | no |'
            in (tmp_path / 'tables.md').read_text())
    assert (tmp_path / 'fig4_curves.png').read_bytes() == b'the committed figure'


def test_sharp_fills_table_and_set_level_differences():
    def with_fid(run, fid):
        run['metrics'].update({f'{b}/demo-{m}': fid + i for i, b in
                               enumerate(('0-20', '20-40', '40-60', 'all'))
                               for m in ('FID', 'KID', 'P-IDS')})
        return run
    results = {
        'SAIR': dict(runs={s: with_fid(_fake_run(s, 0.5), 10.0 + s) for s in (0, 1, 2)}),
        'LIIF': dict(runs={s: with_fid(_fake_run(s, 0.0), 11.0 + s) for s in (0, 1, 2)}),
        'SAIR GAN': dict(runs={s: with_fid(_fake_run(s, 0.2), 5.0 + 0.1 * s) for s in (0, 1, 2)}),
        'LIIF GAN': dict(runs={s: with_fid(_fake_run(s, -0.3), 6.0 + 0.2 * s)
                               for s in (0, 1, 2)}),
    }
    text = demo_tables.format_tables(results, 20, (0, 1, 2), 120)
    assert '**Sharp fills (demo)' in text and 'demo-FID' in text
    # Per-seed paired set-level differences with a t interval: 5 - 6 = -1 +- 0.1 s -> (*)
    line = next(x for x in text.splitlines()
                if x.startswith('| SAIR GAN \u2212 LIIF GAN | demo-FID |'))
    assert '\u22121.100 [' in line and '(*)' in line
    line = next(x for x in text.splitlines()
                if x.startswith('| SAIR GAN \u2212 SAIR | demo-FID |'))
    assert '\u22125.900' in line  # -5 - 0.9 s, averaged
    # The per-image PSNR comparisons include the GAN pairs.
    assert 'SAIR GAN \u2212 LIIF GAN' in demo_tables.compare_rows(results)


def test_eta():
    assert demo_tables._eta({}, ['SAIR']) is None
    durations = {'SAIR': [30.0, 50.0], 'LIIF': [10.0]}
    # SAIR at its own mean (40), an unseen row at the mean of every run (30).
    assert demo_tables._eta(durations, ['SAIR', 'LIIF', 'NFS']) == pytest.approx(80.0)
    # A SAIR run 15 s in has 25 s left; two workers share the rest.
    assert demo_tables._eta(durations, ['LIIF'], {('SAIR', 1): 15.0}) == pytest.approx(35.0)
    assert demo_tables._eta(durations, ['LIIF'], {('SAIR', 1): 15.0}, jobs=2) == \
        pytest.approx(17.5)
    assert demo_tables._eta(durations, [], {('SAIR', 1): 60.0}) == 0  # overdue
    assert demo_tables._clock(75) == '1 min 15 s' and demo_tables._clock(5) == '5 s'


def test_seed_band_uses_the_common_steps():
    import numpy as np

    from sair_toolbox.experiments.figures import seed_band
    steps, mean, std = seed_band([[(4, 20.0), (8, 22.0)], [(4, 21.0), (8, 24.0), (12, 25.0)]])
    assert steps.tolist() == [4, 8] and mean.tolist() == [20.5, 23.0]
    assert np.allclose(std, [np.std([20, 21], ddof=1), np.std([22, 24], ddof=1)])
    steps, mean, std = seed_band([[(4, 20.0)]])
    assert std.tolist() == [0.0]
