"""AutocastOptimWrapper (``tools/train.py --amp`` without CUDA): bfloat16 training that learns,
runs under autocast, and resumes exactly."""
import warnings

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from sair_toolbox.engine import AutocastOptimWrapper
from sair_toolbox.registry import MODELS
from sair_toolbox.utils.errors import ConfigError
from sair_toolbox.engine.setup import register_all_modules
from tests.test_configs.test_all_configs import _batch
from tests.test_engine.test_resume import train
from tests.test_engine.tiny_run import assert_same_state, model_state, tiny_cfg

AMP = {'optim_wrapper.type': 'AutocastOptimWrapper', 'optim_wrapper.dtype': 'bfloat16'}


def _tiny_sair():
    cfg = dict(
        type='SAIR',
        appearance_encoder=dict(type='AppearanceCNN', base_channels=8, num_res_blocks=1),
        sir=dict(encoder=dict(type='MaskCLIPEncoder', pretrained=None, model_cfg=dict(
            embed_dim=32, vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8,
                                          head_width=16),
            text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))),
            head=dict(type='LIIFHead', hidden_channels=(32, 32))),
        air_head=dict(type='LIIFHead', hidden_channels=(32, 32)))
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return MODELS.build(cfg)


def test_built_from_the_registry_and_refuses_float16():
    register_all_modules()
    model = torch.nn.Linear(2, 2)
    wrapper = build_optim_wrapper(model, dict(type='AutocastOptimWrapper',
                                              optimizer=dict(type='Adam', lr=1e-3)))
    assert isinstance(wrapper, AutocastOptimWrapper) and wrapper.cast_dtype == torch.bfloat16
    with pytest.raises(ConfigError, match='loss scaling'):
        AutocastOptimWrapper(dtype='float16', optimizer=torch.optim.Adam(model.parameters()))


def test_training_steps_run_in_bfloat16_and_reduce_the_loss():
    model = _tiny_sair().train()
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.Adam(model.parameters(), lr=2e-3))
    seen = []
    hook = model.appearance_encoder.down[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    data = _batch()
    losses = [model.train_step(data, wrapper)['loss'].item() for _ in range(5)]
    hook.remove()
    assert torch.bfloat16 in seen  # the forward really ran under autocast
    assert all(torch.isfinite(torch.tensor(losses)))
    assert all(b < a for a, b in zip(losses, losses[1:])), losses  # Adam on one fixed batch
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_interrupted_amp_run_resumes_exactly(tmp_path):
    straight = train(tiny_cfg(tmp_path / 'straight', **AMP))
    assert straight.optim_wrapper.__class__ is AutocastOptimWrapper and straight.iter == 4
    work_dir = tmp_path / 'interrupted'
    first = train(tiny_cfg(work_dir, **AMP), stop_after=2)
    assert first.iter == 2
    resumed = train(tiny_cfg(work_dir, resume=True, **AMP))
    assert resumed.iter == 4
    assert_same_state(model_state(straight), model_state(resumed))
