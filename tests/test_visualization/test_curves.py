"""Training curves from MMEngine scalar logs: resumed runs, old logs, several runs on one plot."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from sair_toolbox.utils.errors import ConfigError, DataError
from sair_toolbox.visualization.curves import (load_runs, moving_average, plot_curves,
                                               read_scalars)


def _write_log(work_dir, stamp, records, tail=''):
    folder = osp.join(work_dir, stamp, 'vis_data')
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, 'scalars.json'), 'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in records)
        f.write(tail)


def _train(step, loss):
    return {'lr': 1e-3, 'loss': loss, 'loss_l1': loss, 'iter': step, 'epoch': 1, 'step': step}


def _val(step, psnr):
    return {'all/PSNR': psnr, '0-20/count': 4, 'step': step}


def test_resumed_run_later_log_wins_from_its_first_step(tmp_path):
    run = str(tmp_path / 'sair_demo')
    # First start: iterations 1-6 logged, validation at 4, checkpoint at 4, killed at 6 while
    # writing (truncated last line).
    _write_log(run, '20260101_000000',
               [_train(s, 1.0 / s) for s in range(1, 5)] + [_val(4, 20.0)]
               + [_train(s, 1.0 / s) for s in (5, 6)], tail='{"loss": 0.1, "st')
    # Resumed from iter 4: iterations 5-8 again (different values), validation at 8.
    _write_log(run, '20260101_010000',
               [_train(s, 10.0 + s) for s in range(5, 9)] + [_val(8, 22.5)])
    scalars = read_scalars(run)
    assert scalars['loss'] == [(1, 1.0), (2, 0.5), (3, 1 / 3), (4, 0.25), (5, 15.0), (6, 16.0),
                               (7, 17.0), (8, 18.0)]
    assert scalars['all/PSNR'] == [(4, 20.0), (8, 22.5)]
    assert 'step' not in scalars and 'iter' not in scalars and 'epoch' not in scalars
    # A timestamp folder or the file itself read alone.
    assert read_scalars(osp.join(run, '20260101_010000'))['loss'][0] == (5, 15.0)
    one = read_scalars(osp.join(run, '20260101_000000', 'vis_data', 'scalars.json'))
    assert one['loss'][-1] == (6, 1 / 6)


def test_validation_logged_by_epoch_in_an_iteration_run_gets_its_iteration(tmp_path):
    # MMEngine's default LoggerHook(log_metric_by_epoch=True) writes step=epoch=0 for validations
    # of an IterBasedTrainLoop.
    run = str(tmp_path / 'old')
    _write_log(run, '20260101_000000', [_train(1, 1.0), _train(2, 0.9), _val(0, 18.0),
                                        _train(3, 0.8), _train(4, 0.7), _val(0, 19.0)])
    assert read_scalars(run)['all/PSNR'] == [(2, 18.0), (4, 19.0)]
    # A validation-only log (tools/train.py with val before training) keeps its step.
    _write_log(str(tmp_path / 'valonly'), '20260101_000000', [_val(0, 17.0)])
    assert read_scalars(str(tmp_path / 'valonly'))['all/PSNR'] == [(0, 17.0)]


def test_several_runs_on_one_plot(tmp_path):
    for name, offset in (('liif_demo', 0.0), ('sair_demo', 1.0)):
        _write_log(str(tmp_path / name), '20260101_000000',
                   [_train(s, 1.0 / s) for s in range(1, 6)] + [_val(5, 20 + offset)]
                   + [_train(s, 1.0 / s) for s in range(6, 11)] + [_val(10, 21 + offset)])
    runs = load_runs([str(tmp_path / 'liif_demo'), str(tmp_path / 'sair_demo')])
    assert list(runs) == ['liif_demo', 'sair_demo']
    out = str(tmp_path / 'curves.png')
    fig = plot_curves(runs, ['all/PSNR', 'loss'], out, smooth=3)
    psnr_ax, loss_ax = fig.axes[:2]
    assert [line.get_label() for line in psnr_ax.get_lines()] == ['liif_demo', 'sair_demo']
    np.testing.assert_allclose(psnr_ax.get_lines()[1].get_ydata(), [21.0, 22.0])
    np.testing.assert_allclose(loss_ax.get_lines()[0].get_xdata(), range(1, 11))
    np.testing.assert_allclose(loss_ax.get_lines()[0].get_ydata()[2], (1 + 1 / 2 + 1 / 3) / 3)
    from PIL import Image
    with Image.open(out) as image:
        assert image.size[0] > 500 and image.size[1] > 300
    # Same folder name twice: labels get the parent folder.
    (tmp_path / 'b').mkdir()
    os.rename(tmp_path / 'sair_demo', tmp_path / 'b' / 'liif_demo')
    runs = load_runs([str(tmp_path / 'liif_demo'), str(tmp_path / 'b' / 'liif_demo')])
    assert list(runs) == [f'{tmp_path.name}/liif_demo', 'b/liif_demo']


def test_errors_name_what_and_where(tmp_path):
    with pytest.raises(DataError, match='does not exist'):
        read_scalars(str(tmp_path / 'nope'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataError, match='no .*scalars.json under'):
        read_scalars(str(tmp_path / 'empty'))
    _write_log(str(tmp_path / 'run'), '20260101_000000', [_train(1, 1.0)])
    with pytest.raises(ConfigError, match="no run logged 'all/PSNR'; logged keys: loss, loss_l1"):
        plot_curves(load_runs([str(tmp_path / 'run')]), ['all/PSNR'])


def test_moving_average():
    assert moving_average([1.0, 2.0, 3.0, 4.0], 2) == [1.0, 1.5, 2.5, 3.5]
    assert moving_average([1.0, 2.0], 1) == [1.0, 2.0]
