"""``DemoCLIPWeights``: the demo world's text-aligned CLIP, pretrained offline on first use.

The provider is thin: the cache (check, lock, atomic build, ``meta.json``) is here; the recipe
(:class:`~.demo_clip_pretraining.DemoCLIPRecipe`) and the pretraining itself are in
:mod:`.demo_clip_pretraining`.
"""
import json
import logging
import os
import os.path as osp
import shutil
import tempfile
from typing import Any, Dict, Optional

from mmengine.logging import print_log

from sair_toolbox.registry import WEIGHTS_PROVIDERS
from sair_toolbox.utils.errors import ConfigError, DataError
from sair_toolbox.utils.global_state import preserved_global_state

from .cache_files import file_lock, plain_json, sha256_file
from .demo_clip_pretraining import DemoCLIPRecipe

#: Bump when the pretraining recipe changes, so caches made by an older recipe are rebuilt.
DEMO_CLIP_VERSION = 1
#: The files of a cache folder.
WEIGHTS_FILE = 'open_clip_model.safetensors'
META_FILE = 'meta.json'


@WEIGHTS_PROVIDERS.register_module()
class DemoCLIPWeights:
    """A CLIP pretrained on the procedural demo scenes, cached as an open_clip checkpoint.

    Used as ``pretrained=dict(type='DemoCLIPWeights', ...)`` of a ``MaskCLIPEncoder`` /
    ``CLIPTextEmbedder`` with a custom ``model_cfg``: :meth:`resolve` returns
    ``cache_dir/open_clip_model.safetensors``, pretraining it first if the cache is absent,
    stale (other version, ``model_cfg`` or parameters) or corrupt (unreadable ``meta.json``,
    missing weights, checksum mismatch). A stale or corrupt cache is reported in one warning line
    and rebuilt. The file is an ordinary open_clip state dict, loaded by the normal file path of
    :func:`~sair_toolbox.models.clip_loading.create_clip`.

    Building happens under an exclusive file lock (``<cache_dir>.lock``) into a temporary folder
    that is renamed into place, so processes that start at once (e.g. distributed ranks) pretrain
    once and never see a half-written cache. The recipe is a
    :class:`~.demo_clip_pretraining.DemoCLIPRecipe` (seeded, deterministic), whose fields are
    the generation parameters stored in ``meta.json``, together with :data:`DEMO_CLIP_VERSION`,
    ``model_cfg`` and the zero-shot val mIoU measured after pretraining.

    :meth:`resolve` leaves the global RNGs (torch, numpy, ``random``), torch's thread count and
    its deterministic-algorithms flag as it found them, whether it pretrains or reads the cache:
    a model built on a first run equals the model built once the cache exists.

    Args:
        cache_dir: the cache folder (default ``data/demo_clip``, next to the demo data).
        **recipe: the fields of :class:`~.demo_clip_pretraining.DemoCLIPRecipe` (``image_size``,
            ``num_scenes``, ``steps``, ``batch_size``, ``lr``, ``weight_decay``, ``warmup``,
            ``seed``, ``keep_last_residual``, ``templates``, ``num_threads``, ``val_seed``,
            ``num_val``); unset ones keep the recipe's defaults.
    """

    def __init__(self, cache_dir: str = 'data/demo_clip', **recipe: Any):
        self.cache_dir = cache_dir
        self.recipe = DemoCLIPRecipe.from_options(recipe)

    @property
    def params(self) -> Dict[str, Any]:
        """The recipe as ``meta.json`` stores it (see :meth:`DemoCLIPRecipe.params`)."""
        return self.recipe.params()

    @property
    def weights_path(self) -> str:
        return osp.join(self.cache_dir, WEIGHTS_FILE)

    def _wanted(self, model_cfg: dict) -> Dict[str, Any]:
        return plain_json(dict(version=DEMO_CLIP_VERSION, model_cfg=model_cfg, params=self.params))

    def check(self, model_cfg: dict) -> Optional[str]:
        """None if the cache is complete and current, else why not (``'absent'``, ``'stale
        (...)'``, ``'corrupt (...)'``).

        Raises:
            DataError: ``cache_dir`` holds files that are not a demo CLIP cache.
        """
        if not osp.isdir(self.cache_dir) or not os.listdir(self.cache_dir):
            return 'absent'
        foreign = sorted(set(os.listdir(self.cache_dir)) - {WEIGHTS_FILE, META_FILE})
        if foreign:
            raise DataError(f'{self.cache_dir} is not a demo CLIP cache (it holds '
                            f'{", ".join(foreign[:3])}); remove it or choose another cache_dir')
        try:
            with open(osp.join(self.cache_dir, META_FILE), encoding='utf-8') as f:
                meta = json.load(f)
            found = {k: meta[k] for k in ('version', 'model_cfg', 'params')}
            sha = meta['sha256']
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f'corrupt ({META_FILE}: {type(exc).__name__})'
        wanted = self._wanted(model_cfg)
        if found != wanted:
            diff = sorted(k for k in wanted if found.get(k) != wanted[k])
            return f'stale (other {", ".join(diff)})'
        if not osp.isfile(self.weights_path):
            return f'corrupt ({WEIGHTS_FILE} missing)'
        if sha256_file(self.weights_path) != sha:
            return f'corrupt ({WEIGHTS_FILE} checksum mismatch)'
        return None

    def resolve(self, arch: str = '', model_cfg: Optional[dict] = None,
                cache_dir: Optional[str] = None) -> str:
        """The weights file for ``model_cfg``, pretrained into the cache if needed.

        Args:
            arch: unused (the architecture is ``model_cfg``); part of the provider interface.
            model_cfg: the custom open_clip config to pretrain (required).
            cache_dir: open_clip's cache folder; unused (the cache is ``self.cache_dir``).

        Returns:
            path of ``open_clip_model.safetensors``.
        """
        del arch, cache_dir
        if model_cfg is None:
            raise ConfigError('DemoCLIPWeights pretrains a custom open_clip model: the encoder '
                              'needs model_cfg=dict(embed_dim=..., vision_cfg=..., text_cfg=...)')
        if self.check(model_cfg) is None:  # the common case, without taking the lock
            return self.weights_path
        with preserved_global_state():  # first use: pretraining must not move the caller's RNGs
            return self._resolve_locked(model_cfg)

    def _resolve_locked(self, model_cfg: dict) -> str:
        parent = osp.dirname(osp.abspath(self.cache_dir))
        os.makedirs(parent, exist_ok=True)
        name = osp.basename(osp.abspath(self.cache_dir))
        with file_lock(osp.join(parent, f'.{name}.lock')):
            problem = self.check(model_cfg)  # another process may have built it meanwhile
            if problem is None:
                return self.weights_path
            if problem == 'absent':
                print_log(f'DemoCLIPWeights: pretraining the demo CLIP into {self.cache_dir} '
                          '(first use, about 1 minute on 2 CPU cores)', logger='current')
            else:
                print_log(f'DemoCLIPWeights: the demo CLIP cache {self.cache_dir} is {problem}; '
                          'rebuilding it', logger='current', level=logging.WARNING)
            self._build(model_cfg, parent, name)
        return self.weights_path

    def _build(self, model_cfg: dict, parent: str, name: str) -> None:
        from .demo_clip_pretraining import pretrain_demo_clip
        tmp = tempfile.mkdtemp(prefix=f'.{name}.tmp', dir=parent)
        try:
            weights = osp.join(tmp, WEIGHTS_FILE)
            result = pretrain_demo_clip(plain_json(model_cfg), weights, self.recipe)
            meta = dict(self._wanted(model_cfg), sha256=sha256_file(weights), result=result)
            with open(osp.join(tmp, META_FILE), 'w', encoding='utf-8') as f:
                json.dump(meta, f, indent=2, sort_keys=True)
                f.write('\n')
            os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
            if osp.lexists(self.cache_dir):
                shutil.rmtree(self.cache_dir) if osp.isdir(self.cache_dir) else \
                    os.remove(self.cache_dir)
            os.rename(tmp, self.cache_dir)
        finally:
            if osp.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
        miou = result.get('val_mIoU')
        print_log(f'DemoCLIPWeights: pretrained in {result["seconds"]:.0f} s, zero-shot val mIoU '
                  f'{miou:.3f}' if miou is not None else
                  f'DemoCLIPWeights: pretrained in {result["seconds"]:.0f} s', logger='current')
