"""``DemoSAMWeights``: the demo world's SAM image encoder, pretrained offline on first use."""
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

# The cache mechanics of the demo CLIP (checksums, lock, JSON-comparable parameters).
from .cache_files import file_lock, plain_json, sha256_file
from .demo_clip_weights import META_FILE
from .demo_sam_pretraining import DemoSAMRecipe, split_model_cfg

#: Bump when the pretraining recipe changes, so caches made by an older recipe are rebuilt.
DEMO_SAM_VERSION = 1
#: The checkpoint file of a cache folder (a SAM-style state dict, ``image_encoder.*`` keys).
WEIGHTS_FILE = 'sam_image_encoder.pth'


@WEIGHTS_PROVIDERS.register_module()
class DemoSAMWeights:
    """A SAM image encoder pretrained class-agnostically on the demo scenes, cached on disk.

    Used as ``checkpoint=dict(type='DemoSAMWeights', ...)`` of a :class:`SAMEncoder` at demo
    size: :meth:`resolve` returns ``cache_dir/sam_image_encoder.pth``, pretraining it first if
    the cache is absent, stale (other version, architecture or parameters) or corrupt
    (unreadable ``meta.json``, missing weights, checksum mismatch). A stale or corrupt cache is
    reported in one warning line and rebuilt. The file is an ordinary SAM checkpoint, read by
    ``SAMEncoder``'s normal checkpoint path.

    The cache works as :class:`DemoCLIPWeights`' does: built under an exclusive file lock
    (``.<name>.lock`` next to ``cache_dir``) into a temporary folder renamed into place. The
    recipe is a :class:`~.demo_sam_pretraining.DemoSAMRecipe` (seeded, deterministic), whose
    fields are stored in ``meta.json`` with :data:`DEMO_SAM_VERSION`, the architecture
    (``model_cfg``, as ``SAMEncoder`` passes it, with ``img_size``) and the val same-region pair
    AUC measured before and after pretraining.

    :meth:`resolve` leaves the global RNGs (torch, NumPy, ``random``), torch's thread count and
    its deterministic-algorithms flag as it found them, whether it pretrains or reads the cache.

    Args:
        cache_dir: the cache folder (default ``data/demo_sam``, next to the demo data).
        **recipe: the fields of :class:`~.demo_sam_pretraining.DemoSAMRecipe` (``num_scenes``,
            ``steps``, ``batch_size``, ``lr``, ``weight_decay``, ``warmup``, ``seed``,
            ``pixels_per_image``, ``temperature``, ``boundary_weight``, ``decoder_dim``,
            ``num_threads``, ``val_seed``, ``num_val``); unset ones keep the recipe's defaults.
    """

    def __init__(self, cache_dir: str = 'data/demo_sam', **recipe: Any):
        self.cache_dir = cache_dir
        self.recipe = DemoSAMRecipe.from_options(recipe)

    @property
    def params(self) -> Dict[str, Any]:
        """The recipe as ``meta.json`` stores it (see :meth:`DemoSAMRecipe.params`)."""
        return self.recipe.params()

    @property
    def weights_path(self) -> str:
        return osp.join(self.cache_dir, WEIGHTS_FILE)

    def _wanted(self, model_cfg: dict) -> Dict[str, Any]:
        return plain_json(dict(version=DEMO_SAM_VERSION, model_cfg=model_cfg, params=self.params))

    def check(self, model_cfg: dict) -> Optional[str]:
        """None if the cache is complete and current, else why not (``'absent'``, ``'stale
        (...)'``, ``'corrupt (...)'``).

        Raises:
            DataError: ``cache_dir`` holds files that are not a demo SAM cache.
        """
        if not osp.isdir(self.cache_dir) or not os.listdir(self.cache_dir):
            return 'absent'
        foreign = sorted(set(os.listdir(self.cache_dir)) - {WEIGHTS_FILE, META_FILE})
        if foreign:
            raise DataError(f'{self.cache_dir} is not a demo SAM cache (it holds '
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
        """The checkpoint for ``model_cfg``, pretrained into the cache if needed.

        Args:
            arch: unused (the architecture is ``model_cfg``); part of the provider interface.
            model_cfg: the demo SAM architecture: ``img_size`` and the ``SAMEncoder``
                ``model_cfg`` keys (``embed_dim``, ``depth``, ``num_heads``,
                ``global_attn_indexes``, ``window_size``, ``mlp_ratio``, ``out_chans``,
                ``patch_size``), as ``SAMEncoder`` passes it (required).
            cache_dir: unused (the cache is ``self.cache_dir``).

        Returns:
            path of ``sam_image_encoder.pth``.
        """
        del arch, cache_dir
        if model_cfg is None:
            raise ConfigError('DemoSAMWeights pretrains a demo-size SAM image encoder: it needs '
                              'the architecture (SAMEncoder passes img_size and model_cfg)')
        split_model_cfg(model_cfg)  # a readable error for a wrong architecture, before the lock
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
                print_log(f'DemoSAMWeights: pretraining the demo SAM image encoder into '
                          f'{self.cache_dir} (first use, under a minute on 2 CPU cores)',
                          logger='current')
            else:
                print_log(f'DemoSAMWeights: the demo SAM cache {self.cache_dir} is {problem}; '
                          'rebuilding it', logger='current', level=logging.WARNING)
            self._build(model_cfg, parent, name)
        return self.weights_path

    def _build(self, model_cfg: dict, parent: str, name: str) -> None:
        from .demo_sam_pretraining import pretrain_demo_sam
        tmp = tempfile.mkdtemp(prefix=f'.{name}.tmp', dir=parent)
        try:
            weights = osp.join(tmp, WEIGHTS_FILE)
            result = pretrain_demo_sam(plain_json(model_cfg), weights, self.recipe)
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
        auc, init = result.get('val_pair_auc'), result.get('init_pair_auc')
        print_log(f'DemoSAMWeights: pretrained in {result["seconds"]:.0f} s, val same-region '
                  f'pair AUC {init:.3f} -> {auc:.3f}' if auc is not None else
                  f'DemoSAMWeights: pretrained in {result["seconds"]:.0f} s', logger='current')
