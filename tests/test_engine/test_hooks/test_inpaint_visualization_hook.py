"""InpaintVisualizationHook in a real tiny SAIR run: the grid shows what the model computes, every
vis backend gets it, and the run's scalar log gives the curves."""
import glob
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.visualization import BaseVisBackend
from PIL import Image

from sair_toolbox.engine.hooks import InpaintVisualizationHook
from sair_toolbox.registry import MODELS, VISBACKENDS
from sair_toolbox.utils.errors import ConfigError, ShapeError
from sair_toolbox.engine.setup import build_runner, register_all_modules
from sair_toolbox.visualization.curves import read_scalars
from sair_toolbox.visualization.label_maps import zero_shot_label_map
from sair_toolbox.visualization.sample_grid import (colorize_with_ignore, compose_grid,
                                                    masked_view, to_uint8_image)
from tests.test_engine.tiny_run import release_workers, tiny_cfg

RECORDED = []


@VISBACKENDS.register_module(force=True)
class RecordingVisBackend(BaseVisBackend):
    """A vis backend of our own, chosen by config: keeps what it is given."""

    def _init_env(self):
        pass

    @property
    def experiment(self):
        return self

    def add_image(self, name, image, step=0, **kwargs):
        RECORDED.append((name, step, image.copy()))


def _tile(grid, row, col, tile, header, pad=4):
    y0, x0 = header + row * (tile + pad), pad + col * (tile + pad)
    return grid[y0:y0 + tile, x0:x0 + tile]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Two iterations of the tiny SAIR demo config, one validation, the config's own hook
    (from default_runtime) set to 3 samples, LocalVisBackend + RecordingVisBackend."""
    work_dir = tmp_path_factory.mktemp('vis')
    cfg = tiny_cfg(work_dir, **{'train_cfg.max_iters': 2})
    hooks = [h for h in cfg.custom_hooks if h['type'] == 'InpaintVisualizationHook']
    assert len(hooks) == 1, 'the demo config enables the hook'
    hooks[0]['num_samples'] = 3
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend'),
                                   dict(type='RecordingVisBackend')]
    RECORDED.clear()
    runner = build_runner(cfg)
    runner.train()
    release_workers(runner)
    return runner, work_dir


def test_grid_shows_the_models_output_and_class_maps(trained):
    runner, work_dir = trained
    files = glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'vis_image', '*.png'))
    assert [osp.basename(f) for f in files] == ['val_samples_2.png']
    with Image.open(files[0]) as im:
        grid = np.asarray(im.convert('RGB'))
    # The custom backend got the same picture, at the validation's iteration.
    assert [(name, step) for name, step, _ in RECORDED] == [('val_samples', 2)]
    np.testing.assert_array_equal(RECORDED[0][2], grid)

    hook = next(h for h in runner.hooks if isinstance(h, InpaintVisualizationHook))
    model, dataset = runner.model, runner.val_dataloader.dataset
    size = dataset[0]['inputs'].shape[-1]  # 32: tiles upscaled x4 to 128
    scale = -(-128 // size)
    tile = size * scale
    header = 12 + 2 * 4  # title font size (12 for 128 px tiles) + 2 pads; the legend below
    assert grid.shape[1] == 6 * (tile + 4) + 4  # masked, output, GT, GT classes, no SIR, SIR
    text = hook._text
    assert text is not None and text.shape[0] == len(dataset.metainfo['classes'])
    palette = np.asarray(dataset.metainfo['palette'], dtype=np.uint8)
    model.eval()
    with torch.no_grad():
        for row in range(3):
            data = model.data_preprocessor(pseudo_collate([dataset[row]]), False)
            sample = model(**data, mode='predict')[0]
            up = lambda a: a.repeat(scale, 0).repeat(scale, 1)  # noqa: E731
            expected = [masked_view(sample.gt_img, sample.mask), to_uint8_image(sample.output_img),
                        to_uint8_image(sample.gt_img),
                        colorize_with_ignore(sample.gt_sem_seg, palette)]
            for use_sir in (False, True):
                feats = model.semantic_features(data['inputs'], sample.mask[None], use_sir=use_sir)
                expected.append(colorize_with_ignore(zero_shot_label_map(feats, text)[0], palette))
            for col, image in enumerate(expected):
                np.testing.assert_array_equal(_tile(grid, row, col, tile, header), up(image),
                                              err_msg=f'row {row} column {col}')
    # The legend names the classes the maps show.
    assert grid.shape[0] > header + 3 * (tile + 4)


def test_run_logs_curves_at_the_right_iteration(trained):
    _, work_dir = trained
    scalars = read_scalars(str(work_dir))
    assert [s for s, _ in scalars['loss']] == [1, 2]
    # log_metric_by_epoch=False in default_runtime: validation at iteration 2, not "epoch 0".
    assert [s for s, _ in scalars['all/PSNR']] == [2]


def _stub_runner(model, dataset, model_cfg):
    return SimpleNamespace(model=model, val_dataloader=SimpleNamespace(dataset=dataset),
                           cfg=SimpleNamespace(model=model_cfg),
                           logger=MMLogger.get_current_instance())


def test_models_without_sir_get_no_class_maps(trained):
    runner, _ = trained
    register_all_modules()
    cfg = dict(runner.cfg.model)
    cfg['sir'] = None  # LIIF: appearance only
    liif = MODELS.build(cfg)
    hook = InpaintVisualizationHook(num_samples=2)
    grid = hook.draw(_stub_runner(liif, runner.val_dataloader.dataset, cfg))
    assert grid.shape[1] == 3 * (128 + 4) + 4
    assert 'no semantic branch' in hook._no_maps_reason
    # NFS (SIR without its head): only the masked features' class map.
    nfs_cfg = dict(runner.cfg.model, sir=dict(runner.cfg.model.sir, head=None))
    hook = InpaintVisualizationHook(num_samples=1)
    grid = hook.draw(_stub_runner(MODELS.build(nfs_cfg), runner.val_dataloader.dataset, nfs_cfg))
    assert grid.shape[1] == 5 * (128 + 4) + 4  # masked, output, GT, GT classes, no SIR
    # A SAM encoder has no text tower: no class maps, said once, no crash.
    sam_cfg = dict(runner.cfg.model, sir=dict(runner.cfg.model.sir,
                                              encoder=dict(type='SAMEncoder')))
    hook = InpaintVisualizationHook(num_samples=1)
    grid = hook.draw(_stub_runner(runner.model, runner.val_dataloader.dataset, sam_cfg))
    assert grid.shape[1] == 3 * (128 + 4) + 4  # masked, output, GT; no class maps
    assert 'SAMEncoder' in hook._no_maps_reason


def test_bad_sample_indices_say_so(trained):
    runner, _ = trained
    hook = InpaintVisualizationHook(sample_indices=[0, 99])
    with pytest.raises(ConfigError, match=r'sample_indices \[99\] out of range .* 4 images'):
        hook.draw(runner)
    with pytest.raises(ConfigError, match='num_samples'):
        InpaintVisualizationHook(num_samples=0)


def test_compose_grid_checks_its_tiles():
    a = np.zeros((8, 8, 3), np.uint8)
    grid = compose_grid({'x': [a, a], 'y': [a + 255, a]}, legend=[('sky', (1, 2, 3))], scale=2,
                        pad=1)
    assert grid.shape[1] == 2 * (16 + 1) + 1
    with pytest.raises(ShapeError, match='every column needs 2 tiles'):
        compose_grid({'x': [a, a], 'y': [a]})
