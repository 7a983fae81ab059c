"""InpaintGAN: alternating updates under an OptimWrapperDict, the Runner, exact resume."""
import os.path as osp
import time
import warnings

import pytest
import torch
from mmengine.optim import OptimWrapperDict

from sair_toolbox.engine.setup import register_all_modules
from sair_toolbox.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from sair_toolbox.utils.errors import ConfigError
from tests.test_engine.test_resume import train
from tests.test_engine.tiny_run import assert_same_state, model_state
from tests.test_models.gan_tiny import gan_cfg


def _batch(n=2, size=32):
    from sair_toolbox.structures import InpaintDataSample
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(n):
        s = InpaintDataSample()
        s.mask = (torch.rand(1, size, size, generator=g) > 0.6).float()
        samples.append(s)
    inputs = [torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8)
              for _ in range(n)]
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture(scope='module')
def cfg(tmp_path_factory):
    register_all_modules()
    return gan_cfg(tmp_path_factory.mktemp('gan_cfg'))


def _model_and_wrappers(cfg, **top):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random-init tiny CLIPs
        model = MODELS.build(cfg.model)
    optim = dict(cfg.optim_wrapper.to_dict(), **top)
    optim.pop('constructor')
    wrappers = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='MultiOptimWrapperConstructor', optim_wrapper_cfg=optim))(model)
    return model, wrappers


def test_each_step_updates_only_its_network(cfg):
    model, wrappers = _model_and_wrappers(cfg)
    assert isinstance(wrappers, OptimWrapperDict) and set(wrappers.keys()) == {
        'generator', 'discriminator'}
    gen = [p for p in model.generator.parameters() if p.requires_grad]
    disc = list(model.discriminator.parameters())
    seen = []

    def spy(name, own, other, step):
        def wrapped(*args, **kwargs):
            # At the update: gradients on every trainable parameter... of this network only.
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in own), name
            assert all(p.grad is None or not p.grad.any() for p in other), name
            seen.append(name)
            return step(*args, **kwargs)
        return wrapped

    for name, own, other in (('discriminator', disc, gen), ('generator', gen, disc)):
        wrappers[name].step = spy(name, own, other, wrappers[name].step)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    log = model.train_step(_batch(), wrappers)
    assert seen == ['discriminator', 'generator']
    for key in ('loss_d_real', 'loss_d_fake', 'loss_d_r1', 'loss_rec', 'loss_sem', 'loss_g_adv',
                'loss_fm', 'loss_perc', 'loss_d', 'loss_g', 'loss'):
        assert key in log and torch.isfinite(log[key]), key
    after = model.state_dict()
    changed = {k.split('.')[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {'generator', 'discriminator'}
    # The discriminator is trainable again after the generator step; the encoder stays frozen.
    assert all(p.requires_grad for p in model.discriminator.parameters())
    assert not model.generator.sir.encoder.training
    assert not any(k.startswith('perceptual_loss') for k in after)


def test_autocast_wrappers_train_in_bfloat16_with_float32_losses(cfg):
    # --amp sets the top-level type: both sub-wrappers follow it.
    model, wrappers = _model_and_wrappers(cfg, type='AutocastOptimWrapper', dtype='bfloat16')
    assert all(type(w).__name__ == 'AutocastOptimWrapper' for w in wrappers.values())
    model.train()
    log = model.train_step(_batch(), wrappers)
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in log.values())


def test_loss_and_predict_modes_and_wrong_optim_wrapper(cfg):
    model, wrappers = _model_and_wrappers(cfg)
    data = model.data_preprocessor(_batch(), True)
    losses = model(**data, mode='loss')
    assert {'loss_rec', 'loss_g_adv', 'loss_perc', 'loss_fm'} <= set(losses)
    samples = model(**model.data_preprocessor(_batch(), False), mode='predict')
    assert samples[0].output_img.shape == (3, 32, 32)
    img, mask = torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)
    model.eval()
    assert torch.equal(model.inpaint(img, mask), model.generator.inpaint(img, mask))
    with pytest.raises(ConfigError, match='MultiOptimWrapperConstructor'):
        model.train_step(_batch(), OptimWrapperDict(generator=wrappers['generator']))


def test_runner_trains_validates_and_resumes_exactly(tmp_path):
    start = time.perf_counter()
    straight = train(gan_cfg(tmp_path / 'straight'))
    assert straight.iter == 4
    scalars = straight.message_hub.log_scalars
    assert {'val/all/PSNR', 'val/0-20/PSNR', 'val/all/demo-FID', 'val/all/demo-P-IDS',
            'train/loss_d', 'train/loss_g_adv'} <= set(scalars)

    work_dir = tmp_path / 'interrupted'
    first = train(gan_cfg(work_dir), stop_after=2)
    assert first.iter == 2 and osp.isfile(work_dir / 'iter_2.pth')
    ckpt = torch.load(work_dir / 'iter_2.pth', map_location='cpu', weights_only=False)
    assert set(ckpt['optimizer']) >= {'generator', 'discriminator'}  # both optimizers' states
    assert any(not torch.equal(a, b) for a, b in zip(model_state(first).values(),
                                                      model_state(straight).values()))

    resumed = train(gan_cfg(work_dir, resume=True))
    assert resumed.iter == 4
    assert_same_state(model_state(straight), model_state(resumed))
    assert time.perf_counter() - start < 600  # about 1 min on 2 idle cores


def test_one_generator_pass_equals_the_two_calls(cfg):
    # generator_forward uses SAIR.loss_and_render (one encode); the plain reference is the
    # separate mode='loss' and mode='tensor' calls. Same losses, prediction and gradients.
    model, _ = _model_and_wrappers(cfg)
    model.train()
    data = model.data_preprocessor(_batch(), True)
    img, samples = data['inputs'], data['data_samples']
    mask = torch.stack([s.mask for s in samples]).to(img)
    gen = model.generator
    params = [p for p in gen.parameters() if p.requires_grad]

    def run(fast):
        torch.manual_seed(3)  # the query draws
        if fast:
            own, pred = gen(img, samples, mode='loss_and_tensor')
        else:
            own = gen(img, samples, mode='loss')
            pred = gen(img, samples, mode='tensor')
        total = sum(own.values()) + pred.square().mean()
        grads = torch.autograd.grad(total, params)
        return own, pred, grads

    own_f, pred_f, grads_f = run(True)
    own_r, pred_r, grads_r = run(False)
    assert own_f.keys() == own_r.keys()
    for k in own_f:
        torch.testing.assert_close(own_f[k], own_r[k], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pred_f, pred_r, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads_f, grads_r):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    # The GAN step takes the one-pass path for SAIR.
    calls = []
    forward = gen.forward
    gen.forward = lambda *a, mode='tensor', **k: calls.append(mode) or forward(*a, mode=mode, **k)
    model.generator_forward(img, mask, samples)
    assert calls == ['loss_and_tensor']
