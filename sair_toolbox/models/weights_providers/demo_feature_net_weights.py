"""``DemoFeatureNetWeights``: the demo world's metric network, trained offline on first use."""
import time
from typing import Any, Dict, Optional

import torch
import torch.nn.functional as F

from sair_toolbox.registry import WEIGHTS_PROVIDERS
from sair_toolbox.utils.errors import ConfigError

from .cached_pretraining import META_FILE, PretrainedCache
from .demo_clip_pretraining import deterministic, render_scenes

#: Bump when the recipe changes, so caches of an older recipe are rebuilt.
DEMO_FEATURE_NET_VERSION = 1
#: The seed stream of its training scenes (train 0, val 1, demo CLIP 2, demo SAM 3 are others').
FEATURE_NET_SEED_STREAM = 5
WEIGHTS_FILE = 'demo_feature_net.pth'
__all__ = ['DemoFeatureNetWeights', 'train_demo_feature_net', 'WEIGHTS_FILE', 'META_FILE']


def train_demo_feature_net(model_cfg: dict, out_path: str, num_scenes: int = 512,
                           image_size: int = 64, steps: int = 200, batch_size: int = 32,
                           lr: float = 2e-3, seed: int = 0, num_threads: int = 2
                           ) -> Dict[str, Any]:
    """Train a :class:`~sair_toolbox.models.demo_feature_net.DemoFeatureNet` and save its state.

    Task: from an unmasked demo scene, predict which classes are present (> 1 % of the pixels;
    binary cross-entropy) and the fraction of the image each class covers (cross-entropy against
    the class histogram). Seeded and deterministic (fixed threads, deterministic kernels).

    Returns:
        ``{'seconds', 'final_loss', 'presence_accuracy'}`` (accuracy on the last 10 % of the
        scenes, held out from training).
    """
    from sair_toolbox.models.demo_feature_net import DemoFeatureNet
    start = time.perf_counter()
    with deterministic(num_threads):
        torch.manual_seed(seed)
        images, labels = render_scenes(num_scenes, image_size, seed, FEATURE_NET_SEED_STREAM)
        n_cls = model_cfg['num_classes']
        area = F.one_hot(labels.clamp(0, n_cls - 1), n_cls).float().mean(dim=(1, 2))
        present = (area > 0.01).float()
        n_val = max(1, num_scenes // 10)
        train_idx = torch.arange(num_scenes - n_val)
        net = DemoFeatureNet(pretrained=False, **model_cfg)
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        gen = torch.Generator().manual_seed(seed)
        net.train()
        loss = torch.zeros(())
        for _ in range(steps):
            idx = train_idx[torch.randint(len(train_idx), (batch_size, ), generator=gen)]
            x = images[idx].float() / 255
            if torch.rand((), generator=gen) < 0.5:
                x = x.flip(-1)  # class content does not change under a horizontal flip
            p_logit, a_logit = net.heads(net.features(x))
            loss = (F.binary_cross_entropy_with_logits(p_logit, present[idx])
                    - (area[idx] * F.log_softmax(a_logit, dim=1)).sum(1).mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            val = slice(num_scenes - n_val, num_scenes)
            p_logit, _ = net.heads(net.features(images[val].float() / 255))
            acc = ((p_logit > 0).float() == present[val]).float().mean().item()
        torch.save(net.state_dict(), out_path)
    return dict(seconds=time.perf_counter() - start, final_loss=loss.item(),
                presence_accuracy=acc)


@WEIGHTS_PROVIDERS.register_module()
class DemoFeatureNetWeights(PretrainedCache):
    """The weights file of a ``DemoFeatureNet``, trained into ``cache_dir`` on first use.

    The cache is :class:`~.cached_pretraining.PretrainedCache`'s, as the demo CLIP's: it
    holds ``demo_feature_net.pth`` and ``meta.json`` (version, architecture, recipe, sha256 and
    the training result); an absent, stale or corrupt cache is rebuilt under an exclusive file
    lock into a temporary folder renamed into place; building leaves the global RNGs and thread
    settings as found. About a minute on 2 CPU cores (the default recipe).

    Args:
        cache_dir: the cache folder (default ``data/demo_feature_net``).
        **recipe: arguments of :func:`train_demo_feature_net` (``num_scenes``, ``image_size``,
            ``steps``, ``batch_size``, ``lr``, ``seed``, ``num_threads``).
    """

    WEIGHTS_FILE = WEIGHTS_FILE
    VERSION = DEMO_FEATURE_NET_VERSION
    LABEL = 'demo metric network'

    RECIPE_KEYS = ('num_scenes', 'image_size', 'steps', 'batch_size', 'lr', 'seed',
                   'num_threads')

    def __init__(self, cache_dir: str = 'data/demo_feature_net', **recipe: Any):
        unknown = sorted(set(recipe) - set(self.RECIPE_KEYS))
        if unknown:
            raise ConfigError(f'DemoFeatureNetWeights: unknown options {unknown}; use '
                              f'{list(self.RECIPE_KEYS)}')
        self.cache_dir = cache_dir
        self.recipe = dict(recipe)

    @property
    def params(self) -> Dict[str, Any]:
        """The recipe options as ``meta.json`` stores them."""
        return self.recipe

    def resolve(self, model_cfg: Optional[dict] = None, **_: Any) -> str:
        """The weights file for the architecture ``model_cfg``, trained first if needed."""
        if model_cfg is None:
            raise ConfigError('DemoFeatureNetWeights.resolve needs the network\'s model_cfg')
        return self.provide(model_cfg)

    def _pretrain(self, model_cfg: dict, weights_path: str) -> Dict[str, Any]:
        return train_demo_feature_net(model_cfg, weights_path, **self.recipe)

    def _report(self, result: Dict[str, Any]) -> str:
        return (f'trained in {result["seconds"]:.0f} s, held-out class presence accuracy '
                f'{result["presence_accuracy"]:.3f}')
