"""``DemoSAMWeights``: the demo world's SAM image encoder, pretrained offline on first use."""
from typing import Any, Dict, Optional

from sair_toolbox.registry import WEIGHTS_PROVIDERS
from sair_toolbox.utils.errors import ConfigError

from .cached_pretraining import META_FILE, PretrainedCache
from .demo_sam_pretraining import DemoSAMRecipe, split_model_cfg

#: Bump when the pretraining recipe changes, so caches made by an older recipe are rebuilt.
DEMO_SAM_VERSION = 1
#: The checkpoint file of a cache folder (a SAM-style state dict, ``image_encoder.*`` keys).
WEIGHTS_FILE = 'sam_image_encoder.pth'
__all__ = ['DemoSAMWeights', 'DEMO_SAM_VERSION', 'WEIGHTS_FILE', 'META_FILE']


@WEIGHTS_PROVIDERS.register_module()
class DemoSAMWeights(PretrainedCache):
    """A SAM image encoder pretrained class-agnostically on the demo scenes, cached on disk.

    Used as ``checkpoint=dict(type='DemoSAMWeights', ...)`` of a :class:`SAMEncoder` at demo
    size: :meth:`resolve` returns ``cache_dir/sam_image_encoder.pth``, pretraining it first if
    the cache is absent, stale (other version, architecture or parameters) or corrupt
    (unreadable ``meta.json``, missing weights, checksum mismatch). A stale or corrupt cache is
    reported in one warning line and rebuilt. The file is an ordinary SAM checkpoint, read by
    ``SAMEncoder``'s normal checkpoint path.

    The cache is :class:`~.cached_pretraining.PretrainedCache`'s: built under an exclusive file
    lock (``.<name>.lock`` next to ``cache_dir``) into a temporary folder renamed into place. The
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

    WEIGHTS_FILE = WEIGHTS_FILE
    VERSION = DEMO_SAM_VERSION
    LABEL = 'demo SAM'
    FIRST_USE = 'first use, under a minute on 2 CPU cores'

    def __init__(self, cache_dir: str = 'data/demo_sam', **recipe: Any):
        self.cache_dir = cache_dir
        self.recipe = DemoSAMRecipe.from_options(recipe)

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
        return self.provide(model_cfg)

    def _pretrain(self, model_cfg: dict, weights_path: str) -> Dict[str, Any]:
        from .demo_sam_pretraining import pretrain_demo_sam
        return pretrain_demo_sam(model_cfg, weights_path, self.recipe)

    def _report(self, result: Dict[str, Any]) -> str:
        auc, init = result.get('val_pair_auc'), result.get('init_pair_auc')
        return (f'pretrained in {result["seconds"]:.0f} s, val same-region pair AUC '
                f'{init:.3f} -> {auc:.3f}' if auc is not None else
                f'pretrained in {result["seconds"]:.0f} s')
