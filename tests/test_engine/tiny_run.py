"""The config that the engine and tool tests train with, made tiny, and helpers around it.

Switching every resume / distributed / CLI test to another config is the one line marked below.
"""
import os.path as osp
import tempfile
import uuid
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.model import is_model_wrapper

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Module with the test-only components and hooks (DumpRankWeightsHook); configs import it.
TEST_IMPORTS = ['tests.test_engine.toy_components']

#: Overrides shared by every preset: 4 iterations, a checkpoint and a validation every 2.
COMMON_OPTIONS = {
    'train_cfg.max_iters': 4,
    'train_cfg.val_interval': 2,
    'default_hooks.checkpoint.interval': 2,
    'default_hooks.checkpoint.by_epoch': False,
    'default_hooks.logger.interval': 1,
    'randomness.seed': 0,
    'log_level': 'WARNING',
}

_DEMO_DATA = dict(image_size=32, num_train=16, num_val=4)
#: Generated once and shared by every test and subprocess (safe under concurrent creation).
DEMO_DATA_ROOT = osp.join(tempfile.gettempdir(), 'sair_tiny_demo_{image_size}_{num_train}_{num_val}'
                          .format(**_DEMO_DATA))
_LOADERS = ('train', 'val', 'test')

# name: (config, overrides that make it tiny, overrides that point its training data at a
# missing folder PATH -- for the one-line-error test).
PRESETS = {
    # A two-conv model on procedural 16x16 images (tests/test_engine/toy_components.py).
    'toy': ('tests/test_engine/configs/toy_inpaint.py', {},
            {'train_dataloader.dataset.data_root': 'PATH'}),
    # The full SAIR model (tiny ViT, SIR, appearance CNN, AIR) on the embedded demo data,
    # loaded by 2 dataloader workers as the config says.
    'demo': ('configs/sair/sair_demo.py', {
        **{f'{split}_dataloader.batch_size': 2 for split in _LOADERS},
        **{f'{split}_dataloader.dataset.{k}': v for split in _LOADERS
           for k, v in dict(_DEMO_DATA, data_root=DEMO_DATA_ROOT).items()},
        # A random-init (warned) patch-8 ViT instead of the demo CLIP (pretrained on first use).
        'model.sir.encoder.pretrained': None,
        'model.sir.encoder.model_cfg.vision_cfg.patch_size': 8,
        'model.appearance_encoder.base_channels': 8,
        'model.appearance_encoder.num_res_blocks': 1,
        'model.sir.head.hidden_channels': (32, 32),
        'model.air_head.hidden_channels': (32, 32),
        'model.num_queries': 128,
        'param_scheduler.milestones': [3],
    }, {'train_dataloader.dataset.data_root': 'PATH',
        'train_dataloader.dataset.auto_generate': False}),
}

CONFIG_NAME, PRESET_OPTIONS, MISSING_DATA_OPTIONS = PRESETS['demo']  # <- picks the config
CONFIG = osp.join(REPO_ROOT, CONFIG_NAME)


def missing_data_options(path: str) -> Dict:
    """Overrides that make :data:`CONFIG` read its training data from the missing ``path``."""
    return {k: (str(path) if v == 'PATH' else v) for k, v in MISSING_DATA_OPTIONS.items()}


def tiny_options(**extra) -> Dict:
    """All overrides (``cfg-options`` keys) that make :data:`CONFIG` tiny, plus ``extra``."""
    options = dict(COMMON_OPTIONS)
    options.update(PRESET_OPTIONS)
    options.update(extra)
    return options


def tiny_cfg(work_dir: str, **extra) -> Config:
    """:data:`CONFIG` with the tiny overrides, ``work_dir`` and a unique experiment name."""
    import tests.test_engine.toy_components  # noqa: F401  (registers DumpRankWeightsHook)
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(tiny_options(**extra))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'tiny_{uuid.uuid4().hex[:12]}'
    return cfg


def dump_tiny_cfg(path: str, work_dir: str, custom_hooks: List[dict] = (), **extra) -> str:
    """Write a standalone config file for the tools (subprocesses) and return its path.

    ``custom_hooks`` are appended to the config's own; the test components are imported.
    """
    cfg = tiny_cfg(work_dir, **extra)
    cfg.pop('experiment_name')
    imports = list((cfg.get('custom_imports') or {}).get('imports', []))
    cfg.custom_imports = dict(imports=imports + [m for m in TEST_IMPORTS if m not in imports],
                              allow_failed_imports=False)
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + list(custom_hooks)
    cfg.dump(str(path))
    return str(path)


def model_state(runner) -> Dict[str, torch.Tensor]:
    """CPU copy of the (unwrapped) model's state dict."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> None:
    """Exactly equal state dicts (same keys, ``torch.equal`` tensors)."""
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f'tensors differ: {different[:5]}'


def subprocess_env() -> Dict[str, str]:
    """Environment for tool subprocesses: repository on PYTHONPATH, offline, quiet."""
    import os
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO_ROOT + (os.pathsep + env['PYTHONPATH']
                                     if env.get('PYTHONPATH') else '')
    env['HF_HUB_OFFLINE'] = '1'
    # The tools' stderr should hold only their own output (the demo model warns loudly that it
    # has no pretrained weights; that is tested elsewhere).
    env['PYTHONWARNINGS'] = 'ignore'
    env.pop('SAIR_DEBUG', None)
    return env


def release_workers(runner) -> None:
    """Shut down the dataloader workers of an in-process Runner that has finished
    (:func:`sair_toolbox.utils.setup_env.release_dataloader_workers`)."""
    from sair_toolbox.utils.setup_env import release_dataloader_workers
    release_dataloader_workers(runner)
