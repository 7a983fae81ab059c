"""PrecisionTestLoop (``tools/test.py --precision``): the forward runs under autocast, the metrics
get float32 outputs, and the numbers stay close to float32's."""
import pytest
import torch
from mmengine.runner import Runner

from sair_toolbox.engine.setup import register_all_modules
from sair_toolbox.utils.errors import ConfigError
from tests.test_engine.tiny_run import release_workers, tiny_cfg


def _test(tmp_path, precision):
    register_all_modules(init_default_scope=False)
    cfg = tiny_cfg(tmp_path / precision)
    cfg.test_cfg = dict(type='PrecisionTestLoop', precision=precision)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    seen = []
    hook = model.appearance_encoder.down[0].register_forward_hook(
        lambda m, i, o: seen.append(o.dtype))
    outputs = []
    orig = model.test_step
    model.test_step = lambda data: outputs.extend(orig(data)) or outputs[-len(data['inputs']):]
    metrics = runner.test()
    hook.remove()
    release_workers(runner)
    return metrics, set(seen), {s.output_img.dtype for s in outputs}


def test_bf16_forward_float32_metrics(tmp_path):
    ref, seen32, _ = _test(tmp_path, 'fp32')
    metrics, seen, out_dtypes = _test(tmp_path, 'bf16')
    assert seen32 == {torch.float32} and seen == {torch.bfloat16}
    assert out_dtypes == {torch.float32}
    psnr = [k for k in metrics if k.endswith('PSNR')]
    assert psnr and set(metrics) == set(ref)
    for k in psnr:
        assert abs(metrics[k] - ref[k]) < 0.1, (k, metrics[k], ref[k])


def test_unknown_precision_is_one_line(tmp_path):
    register_all_modules(init_default_scope=False)
    cfg = tiny_cfg(tmp_path)
    cfg.test_cfg = dict(type='PrecisionTestLoop', precision='int8')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ConfigError, match='precision must be one of'):
        runner.test()


@pytest.mark.skipif(torch.cuda.is_available(), reason='the Runner tests on CUDA there')
@pytest.mark.parametrize('native', [True, False])
def test_auto_follows_the_cpu_probe(tmp_path, monkeypatch, native):
    """'auto' (tools/test.py's default): bf16 on a CPU with native bf16 kernels, else exactly the
    float32 test."""
    import sair_toolbox.utils.precision as precision_mod
    monkeypatch.setattr(precision_mod, 'cpu_bf16_supported', lambda: native)
    metrics, seen, out_dtypes = _test(tmp_path, 'auto')
    assert seen == ({torch.bfloat16} if native else {torch.float32})
    assert out_dtypes == {torch.float32}
    if not native:
        ref, _, _ = _test(tmp_path / 'ref', 'fp32')
        assert metrics == ref
