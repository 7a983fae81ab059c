import contextlib

import pytest
import torch

import sair_toolbox.utils.precision as precision_mod
from sair_toolbox.utils.errors import ConfigError
from sair_toolbox.utils.precision import (autocast, check_precision, log_precision,
                                          precision_message, resolve_precision)


def test_names_are_checked_and_canonical():
    assert check_precision('BF16', 'cpu') == 'bf16'
    assert check_precision('fp32', 'cpu') == 'fp32'
    with pytest.raises(ConfigError, match='precision must be one of fp32, bf16, fp16'):
        check_precision('int8', 'cpu')


def test_fp32_is_no_autocast():
    assert isinstance(autocast('fp32', 'cpu'), contextlib.nullcontext)


@pytest.mark.parametrize('name,dtype', [('bf16', torch.bfloat16), ('fp16', torch.float16)])
def test_autocast_runs_matmul_in_the_requested_dtype(name, dtype):
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with autocast(name, 'cpu'):
        out = a @ b
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), a @ b, atol=0.1, rtol=0.05)


# ---------------------------------------------------------------------- 'auto' (issue 23)


@pytest.mark.parametrize('native,expected', [(True, 'bf16'), (False, 'fp32')])
def test_auto_on_cpu_follows_the_onednn_probe(native, expected, monkeypatch):
    monkeypatch.setattr(precision_mod, 'cpu_bf16_supported', lambda: native)
    name, reason = resolve_precision('auto', 'cpu')
    assert name == expected
    if native:
        assert reason == "this CPU's oneDNN has native bfloat16 kernels"
    else:
        assert reason == ("this CPU's oneDNN has no native bfloat16 kernels "
                          '(bf16 autocast would run ~10x slower)')
    # autocast('auto') is the resolved one: fp32 is no context at all.
    ctx = autocast('AUTO', 'cpu')
    assert isinstance(ctx, contextlib.nullcontext) != native


@pytest.mark.parametrize('bf16,expected', [(True, 'bf16'), (False, 'fp16')])
def test_auto_on_cuda_is_bf16_where_supported_else_fp16(bf16, expected, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: bf16)
    name, reason = resolve_precision('auto', 'cuda:1')
    assert name == expected and 'CUDA' in reason
    if not bf16:
        assert 'loss scaling' in reason
        with pytest.raises(ConfigError, match='does not support bfloat16'):
            resolve_precision('bf16', 'cuda')  # an explicit bf16 is still checked


def test_auto_on_other_devices_is_fp32():
    assert resolve_precision('auto', 'meta') == ('fp32', "no mixed-precision default for "
                                                 "device type 'meta'")


def test_the_probe_is_onednns_and_mlp_uses_it(monkeypatch):
    assert precision_mod.cpu_bf16_supported() == torch.ops.mkldnn._is_mkldnn_bf16_supported()
    from sair_toolbox.models.implicit_heads import mlp
    monkeypatch.setattr(precision_mod, 'cpu_bf16_supported', lambda: False)
    mlp.mkldnn_linear_available.cache_clear()
    try:
        assert not mlp.mkldnn_linear_available(torch.bfloat16)
    finally:
        monkeypatch.undo()
        mlp.mkldnn_linear_available.cache_clear()


@pytest.mark.parametrize('native', [True, False])
def test_explicit_names_force_the_choice(native, monkeypatch):
    monkeypatch.setattr(precision_mod, 'cpu_bf16_supported', lambda: native)
    for asked, name in [('fp32', 'fp32'), ('BF16', 'bf16'), ('fp16', 'fp16'),
                        ('bfloat16', 'bf16'), ('float32', 'fp32')]:
        assert resolve_precision(asked, 'cpu') == (name, 'requested explicitly')
    with pytest.raises(ConfigError, match='precision must be one of fp32, bf16, fp16 or auto'):
        resolve_precision('int8', 'cpu')


def test_the_log_line_once_per_run(monkeypatch):
    import mmengine.logging
    lines = []
    monkeypatch.setattr(mmengine.logging, 'print_log',
                        lambda msg, logger=None, level=20: lines.append((msg, logger)))
    monkeypatch.setattr(precision_mod, '_LOGGED', set())
    monkeypatch.setattr(precision_mod, 'cpu_bf16_supported', lambda: False)
    name, reason = resolve_precision('auto', 'cpu')
    line = ("precision auto -> fp32: this CPU's oneDNN has no native bfloat16 kernels "
            '(bf16 autocast would run ~10x slower)')
    assert precision_message('auto', name, reason) == line
    assert log_precision('auto', name, reason) == line
    log_precision('auto', name, reason)
    assert lines == [(line, 'current')]
