"""``DemoCLIPWeights``: the demo world's text-aligned CLIP, pretrained offline on first use.

The provider is thin: the cache (check, lock, atomic build, ``meta.json``) is
:class:`~.cached_pretraining.PretrainedCache`, shared with ``DemoSAMWeights``; the recipe
(:class:`~.demo_clip_pretraining.DemoCLIPRecipe`) and the pretraining itself are in
:mod:`.demo_clip_pretraining`.
"""
from typing import Any, Dict, Optional

from sair_toolbox.registry import WEIGHTS_PROVIDERS
from sair_toolbox.utils.errors import ConfigError

from .cached_pretraining import META_FILE, PretrainedCache
from .demo_clip_pretraining import DemoCLIPRecipe

#: Bump when the pretraining recipe changes, so caches made by an older recipe are rebuilt.
DEMO_CLIP_VERSION = 1
#: The files of a cache folder.
WEIGHTS_FILE = 'open_clip_model.safetensors'
__all__ = ['DemoCLIPWeights', 'DEMO_CLIP_VERSION', 'WEIGHTS_FILE', 'META_FILE']


@WEIGHTS_PROVIDERS.register_module()
class DemoCLIPWeights(PretrainedCache):
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

    WEIGHTS_FILE = WEIGHTS_FILE
    VERSION = DEMO_CLIP_VERSION
    LABEL = 'demo CLIP'
    FIRST_USE = 'first use, about 1 minute on 2 CPU cores'

    def __init__(self, cache_dir: str = 'data/demo_clip', **recipe: Any):
        self.cache_dir = cache_dir
        self.recipe = DemoCLIPRecipe.from_options(recipe)

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
        return self.provide(model_cfg)

    def _pretrain(self, model_cfg: dict, weights_path: str) -> Dict[str, Any]:
        from .demo_clip_pretraining import pretrain_demo_clip
        return pretrain_demo_clip(model_cfg, weights_path, self.recipe)

    def _report(self, result: Dict[str, Any]) -> str:
        miou = result.get('val_mIoU')
        return (f'pretrained in {result["seconds"]:.0f} s, zero-shot val mIoU {miou:.3f}'
                if miou is not None else f'pretrained in {result["seconds"]:.0f} s')
