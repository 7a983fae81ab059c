"""Tables that survive a stop: a killed table continues with the same command, bit for bit; a
finished one trains nothing; other settings are refused; --fresh trains anew."""
import functools
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import warnings

import pytest

from sair_toolbox.experiments import demo_tables, resume
from sair_toolbox.utils.errors import ConfigError
from tests.test_engine.tiny_run import REPO_ROOT, subprocess_env
from tests.test_experiments.tasks_for_workers import tiny_tables_cfg

#: The tiny table: two rows, two seeds, 4 iterations with a val point (and so a checkpoint) at
#: 2 and 4, one torch thread (the bits of a run depend on the thread count).
TABLE = dict(iters=4, val_points=2, names=['SAIR', 'LIIF'], seeds=[0, 1], num_val=6, threads=1)


def _args(out, work):
    return ['--out', str(out), '--work-root', str(work), '--iters', '4', '--val-points', '2',
            '--only', 'SAIR', 'LIIF', '--seeds', '0', '1', '--num-val', '6', '--threads', '1']


def _cli(data_root, out, work, kill=None, extra=()):
    """``tools/demo_tables.py`` on the tiny configs in a subprocess (optionally killed with
    SIGKILL at ``kill``, see tests/test_experiments/tiny_table_cli.py)."""
    env = subprocess_env()
    env.pop('SAIR_TEST_KILL', None)
    if kill:
        env['SAIR_TEST_KILL'] = kill
    return subprocess.run(
        [sys.executable, '-m', 'tests.test_experiments.tiny_table_cli', str(data_root)]
        + _args(out, work) + list(extra), cwd=REPO_ROOT, env=env, capture_output=True,
        text=True, timeout=300)


def _recorded(out):
    saved = json.loads((out / 'results.json').read_text())
    return {n: sorted(int(s) for s in row['runs']) for n, row in saved['results'].items()}


def _files(root):
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_killed_table_continues_bit_for_bit_and_a_finished_one_trains_nothing(tmp_path):
    data = tmp_path / 'demo'
    # The reference: the same table straight through (in this process; same thread count).
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        demo_tables.run_demo_tables(str(tmp_path / 'ref'), str(tmp_path / 'ref_work'),
                                    log=lambda _: None,
                                    config_hook=functools.partial(tiny_tables_cfg,
                                                                  data_root=str(data)),
                                    **TABLE)
    ref = json.loads((tmp_path / 'ref' / 'results.json').read_text())
    out, work = tmp_path / 'out', tmp_path / 'work'

    # 1. Killed in LIIF seed 0's iteration 3: SAIR seed 0 finished, LIIF has its checkpoint
    # of iteration 2 (and a log line of iteration 3, past that checkpoint).
    killed = _cli(data, out, work, kill='seed0/liif_demo:3')
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _recorded(out) == {'SAIR': [0], 'LIIF': []}
    liif0 = work / 'seed0' / 'liif_demo'
    assert (liif0 / 'iter_2.pth').is_file() and not (liif0 / 'iter_4.pth').exists()

    # 2. Continued, and killed again during SAIR seed 1's validation at iteration 2 (its
    # checkpoint is saved just before; that val point is not in the log yet).
    killed = _cli(data, out, work, kill='seed1/sair_demo:val2')
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert '1 of 4 runs taken from' in killed.stdout
    assert 'LIIF seed 0 done in' in killed.stdout and '(resumed at iteration 2)' in killed.stdout
    assert _recorded(out) == {'SAIR': [0], 'LIIF': [0]}

    # 3. Continued to the end: the table of a straight run.
    done = _cli(data, out, work)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '2 of 4 runs taken from' in done.stdout
    assert 'SAIR seed 1 done in' in done.stdout and '[1/2] SAIR seed 1' in done.stdout
    assert '[2/2] LIIF seed 1' in done.stdout
    got = json.loads((out / 'results.json').read_text())
    for name in ('SAIR', 'LIIF'):
        assert got['results'][name]['per_image'] == ref['results'][name]['per_image'], name
        for seed in ('0', '1'):
            a, b = ref['results'][name]['runs'][seed], got['results'][name]['runs'][seed]
            for key in ('metrics', 'curves', 'segmentation', 'diagnostics', 'identity'):
                assert a.get(key) == b.get(key), (name, seed, key)
    assert [s for s, _ in got['results']['SAIR']['runs']['1']['curves']['all/PSNR']] == [2, 4]
    assert got['results']['LIIF']['runs']['0']['resumed_from'] == 2
    assert 'resumed_from' not in got['results']['LIIF']['runs']['1']
    assert got['comparisons'] == ref['comparisons'] and got['levelling'] == ref['levelling']
    # A finished run keeps only its final checkpoint.
    assert sorted(p.name for p in liif0.glob('iter_*.pth')) == ['iter_4.pth']

    # 4. Once more (in this process, the same table): nothing trained, nothing written to the
    # work dirs, the same results.json.
    before, lines = _files(work), []
    demo_tables.run_demo_tables(str(out), str(work), log=lines.append,
                                config_hook=functools.partial(tiny_tables_cfg,
                                                              data_root=str(data)),
                                **TABLE)
    assert any('nothing to train: all 4 runs are in' in line for line in lines), lines
    assert not any(' done in ' in line or line.startswith('demo_tables: [') for line in lines)
    assert _files(work) == before
    assert json.loads((out / 'results.json').read_text()) == got


def _liif_table(tmp_path, lines, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return demo_tables.run_demo_tables(
            str(tmp_path / 'out'), str(tmp_path / 'work'), iters=2, val_points=1,
            names=['LIIF'], seeds=[0], num_val=6, threads=1, log=lines.append,
            config_hook=functools.partial(tiny_tables_cfg, data_root=str(tmp_path / 'demo')),
            **kwargs)


def test_other_settings_are_refused_and_fresh_trains_anew(tmp_path):
    lines = []
    first = _liif_table(tmp_path, lines)
    identity = first['LIIF']['runs'][0]['identity']
    work_dir = tmp_path / 'work' / 'seed0' / 'liif_demo'
    assert json.loads((work_dir / resume.IDENTITY_FILE).read_text()) == identity
    # Another schedule: refused in one line, naming the run and what differs; nothing trained.
    lines.clear()
    with pytest.raises(ConfigError) as err:
        _liif_table(tmp_path, lines, cfg_options={'model.sem_loss_weight': 0.25})
    message = str(err.value)
    assert 'LIIF seed 0 was trained with other settings' in message and '\n' not in message
    assert "cfg_options {} here, {'model.sem_loss_weight': 0.25} now" in message
    assert '--fresh' in message and lines == []
    # A results.json of the version before run identities: refused too, never overwritten.
    path = tmp_path / 'out' / 'results.json'
    saved = json.loads(path.read_text())
    old = json.loads(path.read_text())
    del old['results']['LIIF']['runs']['0']['identity']
    path.write_text(json.dumps(old))
    with pytest.raises(ConfigError, match='LIIF seed 0 recorded without a run identity'):
        _liif_table(tmp_path, lines)
    assert json.loads(path.read_text()) == old
    path.write_text(json.dumps(saved))
    # Where and how often checkpoints are written is not part of a run: taken as it is.
    lines.clear()
    _liif_table(tmp_path, lines, ckpt_interval=1)
    assert any('nothing to train' in line for line in lines)
    # --fresh: trained again from the start, to the same bits.
    lines.clear()
    again = _liif_table(tmp_path, lines, fresh=True)
    assert any(line.startswith('demo_tables: [1/1] LIIF seed 0') for line in lines)
    assert not any('resumed' in line for line in lines)
    run, old = again['LIIF']['runs'][0], first['LIIF']['runs'][0]
    assert run['per_image'] == old['per_image'] and run['identity'] == identity


def test_identity_ignores_where_and_how_often_it_saves(tmp_path):
    options = demo_tables.schedule_options(40, 4)
    variant = demo_tables.VARIANTS[1]

    def identity(work_dir='a', seed=0, **schedule):
        opts = demo_tables.schedule_options(40, 4, **schedule) if schedule else options
        cfg = demo_tables._load_cfg(variant, str(tmp_path / work_dir), opts, {}, seed=seed)
        return resume.run_identity(cfg, dict(iters=40, seed=seed, threads=1))['fingerprint']

    assert identity() == identity(work_dir='b') == identity(ckpt_interval=3)
    assert identity() != identity(seed=1)
    assert identity() != identity(lr_schedule='cosine')
    assert options['default_hooks']['checkpoint'] == dict(interval=10, max_keep_ckpts=2,
                                                          save_last=True)
    assert resume.describe_mismatch(None, {}).startswith('recorded without a run identity')
    with pytest.raises(ConfigError, match='ckpt_interval'):
        demo_tables.schedule_options(40, 4, ckpt_interval=0)


def test_last_checkpoint_and_atomic_writes(tmp_path):
    import torch
    work = tmp_path / 'w'
    work.mkdir()
    assert resume.last_checkpoint(str(work)) is None
    for it in (2, 4):
        torch.save({'it': it}, work / f'iter_{it}.pth')
    (work / 'iter_6.pth').write_bytes(b'PK\x03\x04 cut short')  # killed while saving
    # MMEngine names the last whole checkpoint (it writes last_checkpoint after the file).
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    assert resume.last_checkpoint(str(work)) == str(work / 'iter_2.pth')
    # Named one gone (or the name itself cut short): the newest whole one.
    (work / 'last_checkpoint').write_text(str(work / 'iter_8.pth'))
    assert resume.last_checkpoint(str(work)) == str(work / 'iter_4.pth')
    assert resume.last_checkpoint(str(work), max_iters=3) == str(work / 'iter_2.pth')
    # Another identity in the work dir: its checkpoints are cleared, the run starts.
    assert resume.prepare_work_dir(str(work), dict(fingerprint='x'), 8) is None
    assert not list(work.glob('iter_*.pth')) and not (work / 'last_checkpoint').exists()
    assert resume.read_identity(str(work)) == dict(fingerprint='x')
    # An atomic write that fails leaves the old file whole and no temporary file behind.
    path = tmp_path / 'results.json'
    resume.write_json_atomic(str(path), {'a': 1})
    with pytest.raises(TypeError):
        resume.write_json_atomic(str(path), {'a': object()})
    assert json.loads(path.read_text()) == {'a': 1}
    assert sorted(os.listdir(tmp_path)) == ['results.json', 'w']


def test_one_call_at_a_time_and_forget_table(tmp_path):
    work = tmp_path / 'work'
    with resume.folder_lock(str(work)):  # another call training into the same work root
        with pytest.raises(ConfigError, match='being trained by another process'):
            demo_tables.run_demo_tables(str(tmp_path / 'out'), str(work), iters=2,
                                        val_points=1, names=['LIIF'], seeds=[0])
    with resume.folder_lock(str(work)):  # released with the first holder
        pass
    # A fresh sweep clears each size's table first (results and checkpoints; logs stay).
    out, run = tmp_path / 'out', work / 'seed0' / 'liif_demo'
    run.mkdir(parents=True)
    for name in ('iter_2.pth', 'last_checkpoint', resume.IDENTITY_FILE, 'log.txt'):
        (run / name).write_text('x')
    (out / 'results.json').write_text('{}')
    (out / 'results.json.tmp123').write_text('{')  # left by a kill mid-write
    resume.remove_stale_temporaries(str(out))
    demo_tables.forget_table(str(out), str(work))
    assert os.listdir(out) == [] and os.listdir(run) == ['log.txt']
