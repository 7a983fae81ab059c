"""One number per run of the miniature tables: the model, data and mask seeds derived from it.

A table seed ``s`` fixes everything random in one training run of one row:

* **model seed** -> ``cfg.randomness.seed``: MMEngine's ``set_random_seed`` (torch, NumPy and
  ``random`` global RNGs: the initialisation, the query points, and the training sampler's
  shuffle seed, which MMEngine draws from the seeded NumPy RNG);
* **data seed** -> ``data_seed`` of every dataset: the datasets' private stream
  (:class:`~sair_toolbox.datasets.data_rng.DataRNG`: training masks and flips);
* **mask seed** -> ``mask_seed`` of every dataset: the evaluation masks, image ``i`` of the val
  split gets the mask of ``(mask_seed, i)``.

The derivation is the identity (``model = data = mask = s``), the same for every row, so that
seed 0 is exactly the single-seed run of the configs (``randomness.seed``, ``data_seed`` and
``mask_seed`` are 0 there) and a seeded table contains the earlier one-seed table as its seed 0.
The three streams stay independent although they share the number: each generator is keyed by
its own structure (MMEngine seeds the global generators with ``s``; ``DataRNG`` uses
``SeedSequence([s, rank, worker])``; the masks ``SeedSequence([s, i])``).

What a seed does *not* change: the demo images themselves (the scene-generation ``seed`` of
``DemoDataset``: the val set is the same evaluation set under every seed, so scores pair by
``(seed, image index)``) and the frozen encoders' weights (the demo CLIP and demo SAM caches,
given weights like OpenAI's CLIP). Within one table seed every row sees the same val images with
the same masks -- the pairs that :func:`~sair_toolbox.experiments.stats.compare_paired` matches.

Example::

    from mmengine.config import Config
    cfg = Config.fromfile('configs/sair/sair_demo.py')
    apply_seeds(cfg, run_seeds(1))     # or cfg.merge_from_dict(seed_options(1))
"""
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Sequence

from sair_toolbox.utils.errors import ConfigError

#: The dataloaders whose datasets take the seeds.
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


@dataclass(frozen=True)
class RunSeeds:
    """The seeds of one training run.

    Attributes:
        seed: the table seed they come from.
        model: ``randomness.seed`` (global RNGs: init, query points, sampler order).
        data: ``data_seed`` of the datasets (training masks and augmentations).
        mask: ``mask_seed`` of the datasets (evaluation masks).
    """
    seed: int
    model: int
    data: int
    mask: int


def run_seeds(seed: int) -> RunSeeds:
    """The model, data and mask seeds of table seed ``seed`` (the same for every row).

    Raises:
        ConfigError: ``seed`` is not a non-negative integer below 2**31.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise ConfigError(f'a seed must be an integer in [0, 2**31), got {seed!r}')
    return RunSeeds(seed=seed, model=seed, data=seed, mask=seed)


def check_seeds(seeds: Iterable[int]) -> List[int]:
    """The seeds as a list, validated (integers in ``[0, 2**31)``, no repeats, at least one).

    Raises:
        ConfigError: empty, repeated or invalid seeds.
    """
    seeds = list(seeds)
    if not seeds:
        raise ConfigError('at least one seed is needed')
    for s in seeds:
        run_seeds(s)
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ConfigError(f'seeds must differ; repeated: {repeated}')
    return seeds


def seed_options(seed: int, loaders: Sequence[str] = LOADERS) -> Dict[str, Any]:
    """``Config.merge_from_dict`` overrides giving a config the seeds of table seed ``seed``.

    Dotted keys ``randomness.seed`` and, for each of ``loaders``, ``<loader>.dataset.data_seed``
    / ``.mask_seed``: for configs whose datasets sit directly under ``<loader>.dataset`` (the
    demo configs). Name only the loaders the config has (MMEngine refuses to merge into a
    loader that is None, e.g. the val loader of ``sir-pretrain_demo.py``);
    :func:`apply_seeds` finds them itself and also handles dataset wrappers.
    """
    s = run_seeds(seed)
    options: Dict[str, Any] = {'randomness.seed': s.model}
    for loader in loaders:
        options[f'{loader}.dataset.data_seed'] = s.data
        options[f'{loader}.dataset.mask_seed'] = s.mask
    return options


def _innermost_dataset(dataset: Mapping, where: str) -> Mapping:
    """Follow ``dataset`` keys of wrappers (``RepeatDataset``, ...) to the dataset proper."""
    while isinstance(dataset, Mapping) and isinstance(dataset.get('dataset'), Mapping):
        dataset = dataset['dataset']
    if not isinstance(dataset, Mapping):
        raise ConfigError(f'{where}: expected a dataset config dict, got {type(dataset).__name__}')
    return dataset


def apply_seeds(cfg, seeds: RunSeeds) -> None:
    """Set a config's ``randomness.seed`` and its datasets' ``data_seed`` / ``mask_seed``.

    Args:
        cfg: an MMEngine ``Config`` (changed in place). Loaders that are absent or None are
            skipped; wrapped datasets get the seeds on the innermost dataset; a
            ``ConcatDataset``'s parts (``datasets``) all get them.
        seeds: from :func:`run_seeds`.

    Raises:
        ConfigError: a dataloader without a dataset.
    """
    randomness = dict(cfg.get('randomness') or {})
    randomness['seed'] = seeds.model
    cfg.randomness = randomness
    for name in LOADERS:
        loader = cfg.get(name)
        if not loader:
            continue
        if not isinstance(loader.get('dataset'), Mapping):
            raise ConfigError(f'{name} has no dataset config to seed')
        dataset = _innermost_dataset(loader['dataset'], f'{name}.dataset')
        parts = dataset.get('datasets')
        targets = [_innermost_dataset(p, f'{name}.dataset.datasets') for p in parts] \
            if isinstance(parts, (list, tuple)) else [dataset]
        for target in targets:
            target['data_seed'] = seeds.data
            target['mask_seed'] = seeds.mask


def seed_work_dir(work_root: str, run_name: str, seed: int) -> str:
    """``<work_root>/seed<seed>/<run_name>``: one work dir per (seed, row), so a row's runs of
    different seeds never share checkpoints or scalar logs."""
    import os.path as osp
    return osp.join(work_root, f'seed{run_seeds(seed).seed}', run_name)
