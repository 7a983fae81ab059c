"""AutocastOptimWrapper: ``dtype='auto'`` picks the precision that fits the device when training
starts (none / bf16 on CPU, bf16 / fp16 + GradScaler on CUDA), logs it once, trains float32 runs
bitwise like ``OptimWrapper``, trains bf16 runs under autocast, does AmpOptimWrapper's loss
scaling for fp16, and resumes exactly."""
import warnings

import pytest
import torch
from mmengine.optim import OptimWrapper, build_optim_wrapper

import sair_toolbox.utils.precision as precision_mod
from sair_toolbox.engine import AutocastOptimWrapper
from sair_toolbox.engine.setup import register_all_modules
from sair_toolbox.registry import MODELS
from sair_toolbox.utils.errors import ConfigError
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


@pytest.fixture
def native_bf16(monkeypatch):
    """``native_bf16(flag)`` mocks the one oneDNN probe (CPU with / without native bf16)."""
    def set_probe(flag: bool):
        monkeypatch.setattr(precision_mod, 'cpu_bf16_supported', lambda: flag)
    return set_probe


@pytest.fixture
def logged(monkeypatch):
    """The messages that ``log_precision`` sends to MMEngine's ``print_log``."""
    import mmengine.logging
    lines = []
    real = mmengine.logging.print_log

    def record(msg, logger=None, level=20):
        if str(msg).startswith('precision '):
            lines.append((msg, logger))
        else:
            real(msg, logger=logger, level=level)
    monkeypatch.setattr(mmengine.logging, 'print_log', record)
    monkeypatch.setattr(precision_mod, '_LOGGED', set())
    return lines


def _dtypes_seen(model, wrapper, steps=1):
    seen = []
    hook = model.appearance_encoder.down[0].register_forward_hook(
        lambda m, i, o: seen.append(o.dtype))
    data = _batch()
    losses = []
    for i in range(steps):
        torch.manual_seed(100 + i)  # the same query draws in every run
        losses.append(model.train_step(data, wrapper)['loss'].detach())
    hook.remove()
    return set(seen), losses


def test_built_from_the_registry_auto_by_default_and_refuses_float16_on_cpu():
    register_all_modules()
    model = torch.nn.Linear(2, 2)
    wrapper = build_optim_wrapper(model, dict(type='AutocastOptimWrapper',
                                              optimizer=dict(type='Adam', lr=1e-3)))
    assert isinstance(wrapper, AutocastOptimWrapper) and wrapper.requested == 'auto'
    assert wrapper.precision is None and wrapper.cast_dtype is None  # resolved when training
    explicit = AutocastOptimWrapper(dtype='bfloat16',
                                    optimizer=torch.optim.Adam(model.parameters()))
    assert explicit.cast_dtype == torch.bfloat16
    with pytest.raises(ConfigError, match='loss scaling'):
        AutocastOptimWrapper(dtype='float16', optimizer=torch.optim.Adam(model.parameters()))
    with pytest.raises(ConfigError, match="dtype must be 'auto'"):
        AutocastOptimWrapper(dtype='int8', optimizer=torch.optim.Adam(model.parameters()))


@pytest.mark.parametrize('native', [True, False])
def test_auto_on_cpu_follows_the_probe_and_logs_once(native, native_bf16, logged):
    native_bf16(native)
    model = _tiny_sair().train()
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.Adam(model.parameters(), lr=2e-3))
    seen, _ = _dtypes_seen(model, wrapper, steps=2)
    if native:
        assert (wrapper.precision, wrapper.cast_dtype) == ('bf16', torch.bfloat16)
        assert torch.bfloat16 in seen
        expected = "precision auto -> bf16: this CPU's oneDNN has native bfloat16 kernels"
    else:
        assert (wrapper.precision, wrapper.cast_dtype) == ('fp32', None)
        assert seen == {torch.float32}
        expected = ("precision auto -> fp32: this CPU's oneDNN has no native bfloat16 kernels "
                    '(bf16 autocast would run ~10x slower)')
    assert wrapper.loss_scaler is None and 'loss_scaler' not in wrapper.state_dict()
    # One line for the run, however many steps and wrappers (the GAN has two) resolve.
    other = AutocastOptimWrapper(optimizer=torch.optim.Adam(model.parameters(), lr=2e-3))
    other.resolve('cpu')
    assert logged == [(expected, 'current')]
    assert wrapper.precision_reason in expected


def test_explicit_dtype_forces_the_choice_whatever_the_probe(native_bf16):
    native_bf16(False)
    model = _tiny_sair().train()
    wrapper = AutocastOptimWrapper(dtype='bfloat16',
                                   optimizer=torch.optim.Adam(model.parameters(), lr=2e-3))
    seen, _ = _dtypes_seen(model, wrapper)
    assert wrapper.precision == 'bf16' and torch.bfloat16 in seen
    native_bf16(True)
    wrapper = AutocastOptimWrapper(dtype='float32',
                                   optimizer=torch.optim.Adam(model.parameters(), lr=2e-3))
    seen, _ = _dtypes_seen(model, wrapper)
    assert wrapper.precision == 'fp32' and seen == {torch.float32}


def test_float32_resolution_is_bitwise_optim_wrapper(native_bf16):
    """'auto' on a CPU without native bf16: the same losses and weights as OptimWrapper's."""
    native_bf16(False)
    runs = {}
    for name, make in (('plain', OptimWrapper), ('auto', AutocastOptimWrapper)):
        model = _tiny_sair().train()
        wrapper = make(optimizer=torch.optim.Adam(model.parameters(), lr=2e-3))
        _, losses = _dtypes_seen(model, wrapper, steps=3)
        runs[name] = (torch.stack(losses), model.state_dict(), wrapper.state_dict())
    assert torch.equal(runs['plain'][0], runs['auto'][0]), (runs['plain'][0], runs['auto'][0])
    assert_same_state(runs['plain'][1], runs['auto'][1])
    assert runs['plain'][2].keys() == runs['auto'][2].keys()


@pytest.mark.parametrize('bf16', [True, False])
def test_auto_on_cuda_is_bf16_or_fp16_with_a_scaler(bf16, monkeypatch, logged):
    """The CUDA rule, with ``torch.cuda.is_bf16_supported`` mocked (no GPU needed to choose)."""
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: bf16)
    model = torch.nn.Linear(2, 2)
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # GradScaler('cuda') without CUDA disables itself
        assert wrapper.resolve('cuda') == ('bf16' if bf16 else 'fp16')
    assert isinstance(wrapper.loss_scaler, torch.amp.GradScaler) != bf16
    assert wrapper.cast_dtype == (torch.bfloat16 if bf16 else torch.float16)
    assert logged[0][0].startswith(f'precision auto -> {"bf16" if bf16 else "fp16"}: this CUDA')


def _fp16_on_cpu(**kwargs):
    """A float16 wrapper whose scaler runs on CPU: the loss-scaling contract without a GPU
    (``dtype='float16'`` itself is refused on CPU; ``_configure`` is what CUDA resolves to)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                                   **kwargs)
    wrapper._configure('fp16', 'cpu')
    wrapper.precision_reason = 'test'
    return model, wrapper


def test_float16_loss_scaling_follows_amp_optim_wrapper():
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    model, wrapper = _fp16_on_cpu(loss_scale=dict(init_scale=1024.0, growth_interval=1),
                                  clip_grad=dict(max_norm=1e9))
    ref = torch.nn.Linear(4, 2)
    ref.load_state_dict(model.state_dict())
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)

    seen_scaled = []
    orig_clip = wrapper._clip_grad
    # Clipping sees the unscaled gradients.
    wrapper._clip_grad = lambda: (seen_scaled.append(model.weight.grad.clone()), orig_clip())
    with wrapper.optim_context(model):
        out = model(x)
        loss = out.float().square().mean()
    assert out.dtype == torch.float16  # the forward ran under float16 autocast
    wrapper.backward(loss)
    assert wrapper.inner_count == 1
    ref_loss = ref(x).square().mean()
    ref_loss.backward()
    # backward() scaled the loss: the stored gradients are 1024x the true ones (fp16 forward).
    torch.testing.assert_close(model.weight.grad / 1024, ref.weight.grad, atol=2e-3, rtol=2e-2)
    wrapper.step()
    ref_opt.step()
    torch.testing.assert_close(seen_scaled[0], ref.weight.grad, atol=2e-3, rtol=2e-2)
    torch.testing.assert_close(model.weight, ref.weight, atol=1e-3, rtol=1e-3)
    assert wrapper.loss_scaler.get_scale() == 2048.0  # growth_interval=1: grown after a good step

    # An inf gradient: the step is skipped and the scale backs off.
    wrapper.zero_grad()
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        loss = model(x).sum() * float('inf')
    wrapper.backward(loss)
    wrapper.step()
    assert torch.equal(model.weight.detach(), before)
    assert wrapper.loss_scaler.get_scale() == 1024.0


def test_float16_scaler_state_round_trips_also_before_resolution():
    model, wrapper = _fp16_on_cpu(loss_scale=dict(init_scale=512.0))
    wrapper.loss_scaler.scale(torch.ones(()))  # the scale exists once a loss was scaled
    wrapper.loss_scaler.update(128.0)
    state = wrapper.state_dict()
    assert state['loss_scaler']['scale'] == 128.0 and 'state' in state
    # Resume: the Runner loads the state before the first forward resolves the precision.
    fresh = AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    fresh.load_state_dict(state)
    assert 'loss_scaler' in state  # the caller's dict is left as it was
    assert fresh.state_dict()['loss_scaler'] == state['loss_scaler']  # kept until resolved
    fresh._configure('fp16', 'cpu')
    assert fresh.loss_scaler.get_scale() == 128.0
    # A run that resolves to no scaler drops it (an fp16 GPU run resumed on a CPU).
    cpu = AutocastOptimWrapper(dtype='float32',
                               optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    cpu.load_state_dict(state)
    cpu.resolve('cpu')
    assert 'loss_scaler' not in cpu.state_dict()


def test_training_steps_run_in_bfloat16_and_reduce_the_loss():
    model = _tiny_sair().train()
    wrapper = AutocastOptimWrapper(dtype='bfloat16',
                                   optimizer=torch.optim.Adam(model.parameters(), lr=2e-3))
    seen = []
    hook = model.appearance_encoder.down[0].register_forward_hook(
        lambda m, i, o: seen.append(o.dtype))
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


@pytest.mark.skipif(torch.cuda.is_available(), reason='the Runner trains on CUDA there')
def test_tiny_run_auto_without_native_bf16_trains_like_optim_wrapper(tmp_path, native_bf16):
    """tools/train.py's Runner on the demo config: 'auto' on a CPU without native bf16 is the
    plain float32 run, bitwise."""
    native_bf16(False)
    auto = train(tiny_cfg(tmp_path / 'auto'))  # the config's AutocastOptimWrapper, dtype auto
    assert auto.optim_wrapper.__class__ is AutocastOptimWrapper
    assert auto.optim_wrapper.precision == 'fp32'
    plain = train(tiny_cfg(tmp_path / 'plain', **{'optim_wrapper.type': 'OptimWrapper'}))
    assert plain.optim_wrapper.__class__ is OptimWrapper
    assert_same_state(model_state(plain), model_state(auto))
