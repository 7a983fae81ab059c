"""One way to load a trained model: ``init_model(config, checkpoint, device)``.

    from sair_toolbox.apis import init_model
    model = init_model('configs/sair/sair_demo.py', 'work_dirs/sair_demo/iter_600.pth')
    model.dataset_meta['classes']        # from the checkpoint's meta, else the config's dataset

The inferencer (:class:`~sair_toolbox.apis.SAIRInferencer`), the web demo (through it),
``tools/seg_eval.py`` and ``tools/text_fill_eval.py`` all load models through this module:

* the checkpoint is read with ``torch.load(weights_only=True)`` and MMEngine's allow-list
  (:func:`~sair_toolbox.utils.checkpoint.load_checkpoint_safely`): a file that is missing, empty,
  truncated, not a checkpoint or pickling foreign objects is one :class:`SAIRError` line;
* the weights are loaded strictly: a checkpoint with missing or unexpected keys (another
  config's model) is one :class:`~sair_toolbox.utils.errors.DataError` line naming a few keys;
* ``model.dataset_meta`` (``classes``, ``palette``...) is the checkpoint's
  ``meta['dataset_meta']`` (what MMEngine's Runner stores from the training set), else the
  config's dataset metainfo; ``model.cfg`` is the config.

Importing this module is cheap: MMEngine and the models are imported when a model is loaded.
"""
import os
from typing import Any, Dict, Mapping, Optional, Tuple

from sair_toolbox.utils.errors import ConfigError, DataError


def load_config(config: Any, cfg_options: Optional[Mapping[str, Any]] = None):
    """The :class:`mmengine.Config` of a file path (or a Config, copied), with overrides.

    Args:
        config: config file path or ``mmengine.Config``.
        cfg_options: ``--cfg-options``-style overrides (a top-level path variable such as
            ``data_root`` reaches every dataloader built from it,
            :func:`~sair_toolbox.utils.config.merge_cfg_options`).

    Raises:
        ConfigError: the file is missing, fails to execute, or has no ``model``.
    """
    import copy

    from mmengine.config import Config
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
        name = config.filename or 'the config'
    else:
        name = os.fspath(config)
        if not os.path.isfile(name):
            raise ConfigError(f'config {name} does not exist')
        try:
            cfg = Config.fromfile(name)
        except Exception as exc:  # a Python error inside the config file
            raise ConfigError(f'cannot read config {name}: {type(exc).__name__}: {exc}') from None
    if cfg_options:
        from sair_toolbox.utils.config import merge_cfg_options
        merge_cfg_options(cfg, dict(cfg_options))
    if cfg.get('model') is None:
        raise ConfigError(f'config {name} has no model')
    return cfg


def read_checkpoint(checkpoint: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The weights and the meta of a checkpoint file, loaded safely.

    Args:
        checkpoint: an MMEngine checkpoint (``{'state_dict', 'meta', ...}``) or a bare state
            dict; a ``module.`` prefix (DistributedDataParallel) is stripped.

    Returns:
        ``(state_dict, meta)``; ``meta`` is ``{}`` when the file has none.
    """
    from sair_toolbox.utils.checkpoint import load_checkpoint_safely, state_dict_of
    ckpt = load_checkpoint_safely(checkpoint)
    state = state_dict_of(ckpt, checkpoint)
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    return state, (dict(meta) if isinstance(meta, Mapping) else {})


def dataset_meta_of_config(cfg) -> Dict[str, Any]:
    """``classes``/``palette`` of the config's datasets (for checkpoints without dataset_meta):
    the first of the train/val/test datasets with classes, its ``metainfo`` over the dataset
    class's ``METAINFO``; ``{}`` if none has classes."""
    from sair_toolbox.registry import DATASETS
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset') or {}
        meta = dict(dataset.get('metainfo') or {})
        cls = DATASETS.get(dataset.get('type')) if isinstance(dataset.get('type'), str) else None
        if cls is not None:
            meta = {**dict(getattr(cls, 'METAINFO', {}) or {}), **meta}
        if meta.get('classes'):
            return meta
    return {}


def dataset_meta_of(cfg, meta: Mapping[str, Any]) -> Dict[str, Any]:
    """The checkpoint's ``meta['dataset_meta']`` if it names classes, else the config's."""
    dataset_meta = dict(meta.get('dataset_meta') or {})
    return dataset_meta if dataset_meta.get('classes') else dataset_meta_of_config(cfg)


def build_model(cfg):
    """``MODELS.build(cfg.model)`` with every component registered and the CPU allocator tuned
    (:func:`~sair_toolbox.utils.setup_env.tune_cpu_allocator`); weights as initialised."""
    from mmengine.registry import init_default_scope

    from sair_toolbox.engine.setup import register_all_modules
    from sair_toolbox.registry import MODELS
    from sair_toolbox.utils.setup_env import tune_cpu_allocator
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'sair_toolbox'))
    tune_cpu_allocator()
    return MODELS.build(cfg.model)


def load_weights(model, state: Mapping[str, Any], checkpoint: str, config: str = 'the config'
                 ) -> None:
    """Load ``state`` into ``model`` strictly, as one :class:`DataError` line on a mismatch.

    Raises:
        DataError: ``checkpoint`` has missing or unexpected keys for ``config``'s model.
    """
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise DataError(f'checkpoint {checkpoint} does not fit {config}: '
                        f'{len(missing)} missing keys (e.g. {missing[:2]}), '
                        f'{len(unexpected)} unexpected (e.g. {unexpected[:2]})')


def init_model(config: Any, checkpoint: Optional[str] = None,
               device: Any = 'cpu',
               cfg_options: Optional[Mapping[str, Any]] = None):
    """Build a config's model, load a checkpoint into it, and put it in eval mode on ``device``.

    Args:
        config: config file path or ``mmengine.Config``.
        checkpoint: checkpoint file, or None to keep the initial weights (e.g. a model whose
            only weights are pretrained encoders).
        device: ``'cpu'``, ``'cuda'``, ``torch.device``...
        cfg_options: overrides merged into the config first (see :func:`load_config`).

    Returns:
        the model (an ``nn.Module``) in eval mode on ``device``, with ``model.cfg`` (the
        config) and ``model.dataset_meta`` (see the module docstring). For an adversarial
        wrapper (``InpaintGAN``) its ``inference_model``, the generator with the checkpoint's
        weights: the discriminator is training-only.

    Raises:
        ConfigError, DataError, WeightsNotFoundError: one readable line (see the module doc).
    """
    cfg = load_config(config, cfg_options)
    name = cfg.filename or 'the config'
    state, meta = read_checkpoint(checkpoint) if checkpoint else (None, {})
    model = build_model(cfg)
    if state is not None:
        load_weights(model, state, checkpoint, name)
        del state
    model = getattr(model, 'inference_model', model)  # a GAN checkpoint: its generator
    model.cfg = cfg
    model.dataset_meta = dataset_meta_of(cfg, meta)
    return model.to(device).eval()
