"""Tiny versions of the demo GAN configs for the InpaintGAN tests (the engine tests' sizes)."""
import os.path as osp
import uuid

from mmengine.config import Config

from tests.test_engine.tiny_run import REPO_ROOT, tiny_options

SAIR_GAN = osp.join(REPO_ROOT, 'configs', 'sair', 'ablations', 'sair-gan_demo.py')

#: The GAN's own parts made tiny (the perceptual MaskCLIP like the generator's tiny encoder).
GAN_OPTIONS = {
    'model.perceptual_loss.feature_net.pretrained': None,
    'model.perceptual_loss.feature_net.model_cfg.vision_cfg.patch_size': 8,
    'model.discriminator.discriminator.base_channels': 8,
    'model.discriminator.discriminator.num_layers': 2,
    # The demo metric network with random weights (its training is tested on its own).
    'val_evaluator.1.feature_net.pretrained': None,
    # Data in the main process: worker start-up is most of a 4-iteration run's data time.
    **{f'{split}_dataloader.{k}': v for split in ('train', 'val', 'test')
       for k, v in (('num_workers', 0), ('persistent_workers', False))},
}


def gan_options(**extra) -> dict:
    """The engine tests' tiny overrides with the model's keys moved under ``model.generator``."""
    options = {}
    for key, value in tiny_options().items():
        options[key.replace('model.', 'model.generator.', 1) if key.startswith('model.')
                else key] = value
    options.update(GAN_OPTIONS)
    options.update(extra)
    return options


def gan_cfg(work_dir: str, config: str = SAIR_GAN, **extra) -> Config:
    """A tiny GAN config training 4 iterations (validation and checkpoint every 2)."""
    import tests.test_engine.toy_components  # noqa: F401
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(gan_options(**extra))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'tiny_gan_{uuid.uuid4().hex[:12]}'
    return cfg
