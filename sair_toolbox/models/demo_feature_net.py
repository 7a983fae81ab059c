"""The demo world's feature network for distribution metrics ("demo-FID"), not an Inception."""
from typing import Union

import torch
from torch import Tensor, nn

from sair_toolbox.registry import MODELS, WEIGHTS_PROVIDERS
from sair_toolbox.utils.errors import ConfigError, WeightsNotFoundError, warn_once


@MODELS.register_module()
class DemoFeatureNet(nn.Module):
    """A small CNN trained on demo scenes to recognise which classes a scene shows, and how much
    of each: its pooled penultimate features stand in for Inception's pool3 in FID, KID and
    P-IDS/U-IDS on the demo world (reported as ``demo-FID`` etc., not comparable to Inception
    numbers). Trained by :class:`~.weights_providers.demo_feature_net_weights.
    DemoFeatureNetWeights` on scenes of its own seed stream, never the inpainter's images; it
    shares nothing with the encoders SAIR uses.

    Architecture: ``len(widths)`` blocks of (3x3 stride-2 conv, GroupNorm(8), ReLU), a 3x3 conv
    with GroupNorm and ReLU at the last width, global average pooling -> ``out_channels =
    widths[-1]`` features; two linear heads on them (class presence logits and class-area logits, used in training only).

    Args:
        num_classes: classes of the demo world.
        widths: channels of the blocks.
        pretrained: a ``WEIGHTS_PROVIDERS`` config (``dict(type='DemoFeatureNetWeights', ...)``),
            a weights file path, None (random weights, with a warning: only for tests) or
            False (random weights, silently: the network about to be trained).
    """

    def __init__(self, num_classes: int = 11, widths=(16, 32, 64, 96),
                 pretrained: Union[None, bool, str, dict] = None):
        super().__init__()
        if num_classes < 1 or not widths:
            raise ConfigError('DemoFeatureNet needs num_classes >= 1 and at least one width')
        layers, cin = [], 3
        for w in widths:
            if w % 8:
                raise ConfigError(f'DemoFeatureNet widths must be multiples of 8, got {widths}')
            layers += [nn.Conv2d(cin, w, 3, 2, 1), nn.GroupNorm(8, w), nn.ReLU(inplace=True)]
            cin = w
        layers += [nn.Conv2d(cin, cin, 3, 1, 1), nn.GroupNorm(8, cin), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.out_channels = cin
        self.presence_head = nn.Linear(cin, num_classes)
        self.area_head = nn.Linear(cin, num_classes)
        self.arch = dict(num_classes=int(num_classes), widths=[int(w) for w in widths])
        if pretrained not in (None, False):
            self.load_weights(pretrained)
        elif pretrained is None:
            warn_once('DemoFeatureNet has random weights (pretrained=None): its demo-FID means '
                      'nothing')

    def load_weights(self, pretrained: Union[str, dict]) -> None:
        """Load the weights from a file or a provider (which may train them first)."""
        path = pretrained
        if isinstance(pretrained, dict):
            path = WEIGHTS_PROVIDERS.build(dict(pretrained)).resolve(model_cfg=self.arch)
        try:
            state = torch.load(str(path), map_location='cpu', weights_only=True)
            self.load_state_dict(state, strict=True)
        except FileNotFoundError as exc:
            raise WeightsNotFoundError(f'DemoFeatureNet weights {path} not found') from exc
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise WeightsNotFoundError(f'cannot load DemoFeatureNet weights {path}: '
                                       f'{first}') from exc

    def features(self, img: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, out_channels) pooled features."""
        return self.body(img * 2 - 1).mean(dim=(2, 3))

    def forward(self, img: Tensor) -> Tensor:
        """The features of :meth:`features` (what the distribution metrics use)."""
        return self.features(img)

    def heads(self, feat: Tensor) -> tuple:
        """``(presence logits, area logits)``, each (B, num_classes)."""
        return self.presence_head(feat), self.area_head(feat)


__all__ = ['DemoFeatureNet']
