"""A frozen torchvision backbone returning intermediate feature maps, from a local weights file."""
import os.path as osp
import zipfile
from typing import List, Optional, Sequence

import torch
from torch import Tensor, nn

from sair_toolbox.utils.errors import ConfigError, WeightsNotFoundError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_weights_path(arch: str) -> str:
    """Where torchvision keeps ``arch``'s default ImageNet weights:
    ``torch.hub.get_dir()/checkpoints/<file of the DEFAULT weights enum>``."""
    from torchvision import models
    url = models.get_model_weights(arch).DEFAULT.url
    return osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(url))


class TorchvisionFeatures(nn.Module):
    """Frozen ``torchvision.models.<arch>`` (eval mode, no grad to its weights) that maps a
    (B, 3, H, W) image in [0, 1] to the list of its ``layers``' outputs.

    Weights are read from disk only (``torch.load(weights_only=True)``, strict keys); a missing
    file raises :class:`WeightsNotFoundError` naming the file and where to put it. ``weights_path
    =None`` with ``pretrained=False`` builds random weights (tests).

    Args:
        arch: a torchvision classification model name, e.g. ``'resnet50'``, ``'vgg16'``.
        layers: node names of :func:`torchvision.models.feature_extraction.create_feature_extractor`
            (``'layer1'``... for ResNets, ``'features.15'``... for VGG).
        weights_path: the state-dict file (or a folder holding torchvision's file name); default
            torch hub's cache.
        pretrained: ``False`` keeps the random initialisation (no file read).
    """

    def __init__(self, arch: str = 'resnet50', layers: Sequence[str] = ('layer1', 'layer2',
                                                                          'layer3'),
                 weights_path: Optional[str] = None, pretrained: bool = True):
        super().__init__()
        from torchvision import models
        from torchvision.models.feature_extraction import create_feature_extractor
        if arch not in models.list_models(module=models):
            raise ConfigError(f'TorchvisionFeatures: unknown torchvision classifier {arch!r}')
        net = models.get_model(arch, weights=None)
        if pretrained:
            path = self.resolve(arch, weights_path)
            try:
                state = torch.load(path, map_location='cpu', weights_only=True,
                                   mmap=zipfile.is_zipfile(path))
                net.load_state_dict(state, strict=True)
            except Exception as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise WeightsNotFoundError(f'cannot load torchvision {arch} weights {path}: '
                                           f'{first}') from exc
        self.layers = tuple(layers)
        try:
            self.body = create_feature_extractor(net, return_nodes=list(self.layers))
        except ValueError as exc:
            raise ConfigError(f'TorchvisionFeatures: {arch} has no node among {self.layers}: '
                              f'{str(exc).splitlines()[0]}') from exc
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)
        self.requires_grad_(False)
        super().train(False)

    @staticmethod
    def resolve(arch: str, weights_path: Optional[str]) -> str:
        """The weights file to read, which must exist (one-line error otherwise)."""
        from torchvision import models
        default = default_weights_path(arch)
        path = default if weights_path is None else osp.expanduser(str(weights_path))
        if osp.isdir(path):
            path = osp.join(path, osp.basename(default))
        if not osp.isfile(path):
            url = models.get_model_weights(arch).DEFAULT.url
            raise WeightsNotFoundError(
                f'the perceptual loss needs torchvision ImageNet {arch} weights '
                f'{osp.basename(default)}, not found: put the file at {osp.abspath(path)} '
                f'(from {url}) or use another feature_net')
        return path

    def train(self, mode: bool = True):
        return super().train(False)  # frozen: always eval mode

    def forward(self, img: Tensor) -> List[Tensor]:
        """(B, 3, H, W) in [0, 1] -> the ``layers``' outputs, in order."""
        out = self.body((img - self.mean.to(img.dtype)) / self.std.to(img.dtype))
        return [out[name] for name in self.layers]
