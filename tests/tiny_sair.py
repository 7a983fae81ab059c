"""A tiny SAIR config file and checkpoint (random init, demo architecture), for tool/API tests."""
import os.path as osp
import warnings

import torch
from mmengine.config import Config

from tests.test_configs.shrink import shrink

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: Class names stored in the tiny checkpoint's ``meta['dataset_meta']`` (as MMEngine does).
TINY_CLASSES = ('sky', 'grass', 'water')
TINY_PALETTE = [[80, 160, 255], [40, 200, 40], [20, 60, 200]]


def save_tiny_sair(folder, seed: int = 0):
    """Write ``folder/tiny.py`` (the demo model shrunk) and ``folder/tiny.pth``.

    Returns:
        (config path, checkpoint path) as str.
    """
    from sair_toolbox.engine.setup import register_all_modules
    from sair_toolbox.registry import MODELS
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sair', 'sair_demo.py'))
    model_cfg = shrink(cfg.model.to_dict())
    config = folder / 'tiny.py'
    config.write_text(f'model = {model_cfg!r}\n')
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the random-init warning of the tiny CLIP
        model = MODELS.build(model_cfg)
    ckpt = folder / 'tiny.pth'
    meta = dict(dataset_meta=dict(classes=TINY_CLASSES, palette=TINY_PALETTE))
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, ckpt)
    return str(config), str(ckpt)


def tiny_inferencer(folder):
    """A :class:`SAIRInferencer` of :func:`save_tiny_sair` on CPU, model and class embeddings
    built (their random-weights warnings silenced)."""
    from sair_toolbox.apis import SAIRInferencer
    inf = SAIRInferencer(*save_tiny_sair(folder), device='cpu', precision='fp32')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        inf.model, inf.class_embeddings
    return inf
