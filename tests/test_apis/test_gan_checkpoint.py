"""A GAN checkpoint (InpaintGAN) serves wherever its generator's does: the inferencer, its
label maps and text-guided fill give exactly what the generator alone gives."""
import warnings

import numpy as np
import torch

from sair_toolbox.apis import SAIRInferencer
from sair_toolbox.models.zero_shot import semantic_encoder_cfg
from tests.test_models.gan_tiny import gan_cfg
from tests.tiny_sair import TINY_CLASSES, TINY_PALETTE


def _pair():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    mask = np.zeros((24, 24), np.uint8)
    mask[6:16, 5:18] = 255
    return img, mask


def test_gan_checkpoint_infers_like_its_generator(tmp_path):
    from sair_toolbox.engine.setup import register_all_modules
    from sair_toolbox.registry import MODELS
    register_all_modules()
    cfg = gan_cfg(tmp_path / 'work')
    assert semantic_encoder_cfg(cfg.model) == dict(cfg.model.generator.sir.encoder)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random-init tiny encoders
        gan = MODELS.build(cfg.model)
    meta = dict(dataset_meta=dict(classes=TINY_CLASSES, palette=TINY_PALETTE))
    gan_config, gan_ckpt = tmp_path / 'gan.py', tmp_path / 'gan.pth'
    gan_config.write_text(f'model = {cfg.model.to_dict()!r}\n')
    torch.save({'state_dict': gan.state_dict(), 'meta': meta}, gan_ckpt)
    # The generator alone: its config and its weights (the 'generator.' keys).
    gen_config, gen_ckpt = tmp_path / 'gen.py', tmp_path / 'gen.pth'
    gen_config.write_text(f'model = {cfg.model.generator.to_dict()!r}\n')
    torch.save({'state_dict': {k[len('generator.'):]: v for k, v in gan.state_dict().items()
                               if k.startswith('generator.')}, 'meta': meta}, gen_ckpt)

    img, mask = _pair()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        results = [SAIRInferencer(str(c), str(p), device='cpu')
                   for c, p in ((gan_config, gan_ckpt), (gen_config, gen_ckpt))]
        assert all(r.has_semantics for r in results)
        plain = [r(img, mask) for r in results]
        steered = [r(img, mask, text='water') for r in results]
    for a, b in (plain, steered):
        assert np.array_equal(a.output, b.output)
        assert a.labels_sir is not None and np.array_equal(a.labels_sir, b.labels_sir)
        assert list(a.class_names) == list(TINY_CLASSES)
    assert steered[0].text == 'water'
