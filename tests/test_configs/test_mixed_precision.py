"""Every config under ``torch.autocast`` (CPU bfloat16 stands in for a GPU's float16/bfloat16).

For each paper / ablation config (the CelebA-HQ ones; ADE20K's build the same models), scaled down as in ``test_all_configs.py``: the losses are float32
and finite, every trainable parameter that gets a gradient in float32 gets a finite one, and the
prediction is within ``PRED_TOL`` of the float32 prediction of the same weights. float16 autocast
runs on the configs whose parts differ (encoders, heads, fusions).

``PRED_TOL``: images in [0, 1]; bfloat16 keeps 8 significant bits (relative rounding 2^-9 per
operation), and the random-init tiny models of these tests stack a ViT, a CNN and two MLPs.
Measured (``python -m tests.test_configs.test_mixed_precision``): at most 0.003 for every config
but the class-logit fusion, 0.015 there (its 1 / temperature = 100 scales the rounding of the
bfloat16 field ``S``, although the fusion itself runs in float32); 0.03 leaves room for other
CPUs' kernels.
"""
import warnings

import pytest
import torch
from mmengine.config import Config

from sair_toolbox.registry import MODELS

from .shrink import shrink
from .test_all_configs import CONFIGS, _batch, _name

PRED_TOL = 0.03
# The ADE20K ablations build the CelebA-HQ ablations' models (checked in test_all_configs.py).
MODEL_CONFIGS = [p for p in CONFIGS
                 if not p.endswith('_ade20k.py') or p.endswith('sair/sair_ade20k.py')]
FP16_CONFIGS = ('sair/sair_celebahq.py', 'sair/ablations/semlte_celebahq.py',
                'sair/ablations/sair-sam_celebahq.py', 'sair/ablations/sair-classlogits_celebahq.py',
                'sair/ablations/sair-edsr_celebahq.py', 'sair/ablations/sir-pretrain_celebahq.py')


def _build(path):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random-init warnings of the shrunk encoders
        model = MODELS.build(shrink(Config.fromfile(path).model))
    model.init_weights()
    return model


def _loss_and_grads(model, data, dtype=None):
    model.zero_grad()
    with torch.autocast('cpu', dtype=dtype, enabled=dtype is not None):
        losses = model(**data, mode='loss')
    total = sum(losses.values())
    total.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return losses, grads


def _check(path, dtype):
    model = _build(path).train()
    data = model.data_preprocessor(_batch(), True)
    _, grads32 = _loss_and_grads(model, data)
    losses, grads = _loss_and_grads(model, data, dtype)
    for name, loss in losses.items():
        assert loss.dtype == torch.float32 and torch.isfinite(loss), name
    assert grads.keys() == grads32.keys()
    for name, grad in grads.items():
        assert grad.dtype == torch.float32 and torch.isfinite(grad).all(), name
    model.eval()
    with torch.no_grad():
        ref = model(**data, mode='tensor')
        with torch.autocast('cpu', dtype=dtype):
            out = model(**data, mode='tensor')
    assert out.dtype == torch.float32 and out.shape == ref.shape
    assert (out - ref).abs().max() < PRED_TOL


@pytest.mark.parametrize('path', MODEL_CONFIGS, ids=_name)
def test_bfloat16_autocast(path):
    _check(path, torch.bfloat16)


@pytest.mark.parametrize('path', [p for p in CONFIGS if _name(p) in FP16_CONFIGS], ids=_name)
def test_float16_autocast(path):
    _check(path, torch.float16)


def _max_pred_diff(path, dtype):
    model = _build(path).eval()
    data = model.data_preprocessor(_batch(), True)
    with torch.no_grad():
        ref = model(**data, mode='tensor')
        with torch.autocast('cpu', dtype=dtype):
            out = model(**data, mode='tensor')
    return float((out - ref).abs().max())


if __name__ == '__main__':  # prints the measured differences that PRED_TOL is set from
    for p in CONFIGS:
        print(f'{_name(p):<45} bf16 {_max_pred_diff(p, torch.bfloat16):.4f}')
