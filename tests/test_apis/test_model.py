"""init_model: the one loader (strict, weights-only, dataset meta attached)."""
import warnings

import pytest
import torch
from mmengine.runner import Runner

from sair_toolbox.apis import SAIRInferencer, init_model
from sair_toolbox.datasets.demo_scenes import DEMO_CLASSES
from sair_toolbox.engine.setup import register_all_modules
from sair_toolbox.utils.errors import ConfigError, DataError, SAIRError
from tests.test_engine.tiny_run import (assert_same_state, dump_tiny_cfg, model_state,
                                        release_workers)
from tests.tiny_sair import TINY_CLASSES, save_tiny_sair


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A tiny demo SAIR trained 2 iterations by the Runner: (config file, checkpoint, weights)."""
    folder = tmp_path_factory.mktemp('init_model')
    config = dump_tiny_cfg(folder / 'tiny.py', str(folder / 'work'),
                           **{'train_cfg.max_iters': 2, 'train_cfg.val_interval': 100})
    register_all_modules(init_default_scope=False)
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.work_dir = str(folder / 'work')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        runner = Runner.from_cfg(cfg)
        runner.train()
    release_workers(runner)
    return config, str(folder / 'work' / 'iter_2.pth'), model_state(runner)


def test_loads_a_trained_checkpoint_exactly(trained):
    config, ckpt, weights = trained
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = init_model(config, ckpt)
    assert not model.training
    assert_same_state(weights, {k: v.cpu() for k, v in model.state_dict().items()})
    # The Runner stored the training set's metainfo; init_model attaches it.
    assert tuple(model.dataset_meta['classes']) == tuple(DEMO_CLASSES)
    assert model.cfg.model.type == 'SAIR'
    assert next(model.parameters()).device.type == 'cpu'


def test_same_model_as_the_inferencer(tmp_path):
    config, ckpt = save_tiny_sair(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = init_model(config, ckpt)
        inferencer = SAIRInferencer(config, ckpt, device='cpu')
        assert_same_state(model.state_dict(), inferencer.model.state_dict())
    assert tuple(model.dataset_meta['classes']) == TINY_CLASSES
    assert inferencer.model.dataset_meta == model.dataset_meta
    img = torch.rand(1, 3, 32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:20, 10:24] = 1
    assert torch.equal(model.inpaint(img, mask), inferencer.model.inpaint(img, mask))


def test_cfg_options_and_no_checkpoint(tmp_path):
    config, _ = save_tiny_sair(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = init_model(config, cfg_options={'model.num_queries': 7})
    assert model.num_queries == 7 and model.dataset_meta == {}


def test_errors_are_one_line(tmp_path):
    config, ckpt = save_tiny_sair(tmp_path)
    wrong = tmp_path / 'wrong.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}}, wrong)
    with pytest.raises(DataError, match=r'does not fit .*1 unexpected'):
        init_model(config, str(wrong))
    (tmp_path / 'empty.pth').write_bytes(b'')
    for bad, match in [(tmp_path / 'none.pth', 'does not exist'),
                       (tmp_path / 'empty.pth', 'empty')]:
        with pytest.raises(SAIRError, match=match) as info:
            init_model(config, str(bad))
        assert '\n' not in str(info.value)
    with pytest.raises(ConfigError, match='does not exist'):
        init_model(str(tmp_path / 'none.py'), ckpt)
    no_model = tmp_path / 'no_model.py'
    no_model.write_text('x = 1\n')
    with pytest.raises(ConfigError, match='has no model'):
        init_model(str(no_model), ckpt)
