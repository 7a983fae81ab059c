"""Build an ``lpips.LPIPS`` module from files on disk only, never downloading anything.

``lpips.LPIPS(pretrained=True, net=...)`` needs two sets of weights:

(a) torchvision's ImageNet backbone (``vgg16-397923af.pth``, ``alexnet-owt-7be5be79.pth`` or
    ``squeezenet1_1-b8a52dc0.pth``), which torchvision downloads into
    ``torch.hub.get_dir()/checkpoints`` when it is missing, and
(b) the linear calibration layers that ship inside the ``lpips`` package
    (``lpips/weights/v0.1/<net>.pth``).

:func:`build_lpips` builds the module with a randomly initialised trunk (no download), then loads
(b) and (a) itself with ``torch.load(weights_only=True)`` and strict key checks, so the result is
numerically the module that ``lpips.LPIPS(pretrained=True, net=net)`` builds from the same files,
and it can never silently run with a random backbone: a missing file raises
:class:`WeightsNotFoundError` saying which file and where to put it.
"""
import os.path as osp
import re
import zipfile
import warnings
from typing import Dict, Optional

import torch

from sair_toolbox.utils.errors import ConfigError, WeightsNotFoundError

#: LPIPS trunks and the torchvision model each one uses.
LPIPS_NETS: Dict[str, str] = {'alex': 'alexnet', 'vgg': 'vgg16', 'squeeze': 'squeezenet1_1'}

#: LPIPS calibration-layer version that ``lpips.LPIPS`` loads by default.
LPIPS_VERSION = '0.1'


def _backbone_weights(net: str):
    """torchvision's weights enum entry that ``<arch>(pretrained=True)`` resolves to."""
    from torchvision import models
    return {
        'alex': models.AlexNet_Weights.IMAGENET1K_V1,
        'vgg': models.VGG16_Weights.IMAGENET1K_V1,
        'squeeze': models.SqueezeNet1_1_Weights.IMAGENET1K_V1,
    }[net]


def check_net(net: str) -> str:
    """Validate an LPIPS trunk name ('alex', 'vgg' or 'squeeze')."""
    if net not in LPIPS_NETS:
        raise ConfigError(f"LPIPS net must be one of {sorted(LPIPS_NETS)}, got {net!r}")
    return net


def backbone_filename(net: str) -> str:
    """File name of the ImageNet weights, e.g. ``'vgg16-397923af.pth'`` for ``net='vgg'``."""
    return osp.basename(_backbone_weights(check_net(net)).url)


def default_backbone_path(net: str) -> str:
    """Where torchvision looks for the backbone: ``torch.hub.get_dir()/checkpoints/<file>``.

    ``torch.hub.get_dir()`` follows ``$TORCH_HOME`` (default ``~/.cache/torch``) + ``/hub``.
    """
    return osp.join(torch.hub.get_dir(), 'checkpoints', backbone_filename(net))


def resolve_backbone_path(net: str, backbone_path: Optional[str] = None) -> str:
    """The backbone file to load, which must exist.

    Args:
        net: 'alex', 'vgg' or 'squeeze'.
        backbone_path: a file, a folder holding the torchvision file name, or None for
            torch hub's cache (:func:`default_backbone_path`).

    Raises:
        WeightsNotFoundError: one line naming the file, the exact path to put it at, and the
            way to switch LPIPS off.
    """
    fname = backbone_filename(net)
    if backbone_path is None:
        path = default_backbone_path(net)
    else:
        path = osp.expanduser(str(backbone_path))
        if osp.isdir(path):
            path = osp.join(path, fname)
    if not osp.isfile(path):
        url = _backbone_weights(net).url
        raise WeightsNotFoundError(
            f"LPIPS (net='{net}') needs torchvision's ImageNet {LPIPS_NETS[net]} weights "
            f'{fname}, not found: put the file at {osp.abspath(path)} (from {url}) '
            'or set lpips=None in the metric config')
    return path


def lpips_linear_path(net: str) -> str:
    """The calibration weights inside the installed ``lpips`` package (must exist)."""
    import lpips
    path = osp.join(osp.dirname(lpips.__file__), 'weights', f'v{LPIPS_VERSION}', f'{net}.pth')
    if not osp.isfile(path):
        raise WeightsNotFoundError(
            f'the lpips package has no calibration weights at {path}: reinstall it '
            '(pip install --force-reinstall lpips==0.1.4) or set lpips=None in the metric config')
    return path


def _load_state_dict(path: str, what: str) -> Dict[str, torch.Tensor]:
    try:
        # Zip-format files are memory-mapped: only the tensors used are read (VGG16's file is
        # 528 MB, its convolutional features 59 MB). Legacy-format files are read whole.
        state = torch.load(path, map_location='cpu', weights_only=True,
                           mmap=zipfile.is_zipfile(path))
    except Exception as exc:  # corrupt file, non-weights pickle, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WeightsNotFoundError(f'cannot read {what} {path}: {first}') from exc
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsNotFoundError(f'{what} {path} is not a state dict of tensors')
    return state


def _load_backbone(trunk: torch.nn.Module, net: str, path: str) -> None:
    """Copy torchvision ``features.<i>.*`` weights into LPIPS's ``slice<k>.<i>.*`` modules."""
    where = {}  # torchvision feature index -> the LPIPS slice holding that layer
    for slice_name, block in trunk.named_children():
        for idx, _ in block.named_children():
            where[idx] = slice_name
    state = _load_state_dict(path, f'LPIPS backbone ({LPIPS_NETS[net]})')
    mapped, unused = {}, []
    for key, value in state.items():
        parts = key.split('.')
        if parts[0] != 'features':
            continue  # the classifier, which LPIPS does not use
        if len(parts) < 3 or parts[1] not in where:
            unused.append(key)
            continue
        mapped['.'.join([where[parts[1]]] + parts[1:])] = value
    expected = set(trunk.state_dict())
    missing = sorted(expected - set(mapped))
    if missing or unused:
        raise WeightsNotFoundError(
            f'{path} is not a torchvision {LPIPS_NETS[net]} state dict: '
            f'missing {missing[:3]}, unexpected {unused[:3]}')
    try:
        trunk.load_state_dict(mapped, strict=True)
    except RuntimeError as exc:  # shape mismatch
        first = [ln.strip() for ln in str(exc).splitlines() if ln.strip()][-1]
        raise WeightsNotFoundError(
            f'{path} does not fit torchvision {LPIPS_NETS[net]}: {first}') from exc


def build_lpips(net: str = 'vgg', backbone_path: Optional[str] = None) -> torch.nn.Module:
    """An ``lpips.LPIPS`` module (eval mode, frozen) with all weights loaded from disk.

    Equivalent to ``lpips.LPIPS(pretrained=True, net=net)`` built from the same files, without
    any download. Call it as ``module(x, y)`` with (B, 3, H, W) images in [-1, 1];
    it returns (B, 1, 1, 1) distances.

    Args:
        net: 'vgg' (the protocol's default), 'alex' or 'squeeze'.
        backbone_path: the torchvision ImageNet weights file (or a folder holding it under its
            torchvision name); default: torch hub's cache, ``torch.hub.get_dir()/checkpoints``.

    Raises:
        ConfigError: unknown ``net``.
        WeightsNotFoundError: a weights file is missing or unreadable (one line: which file,
            where to put it, or set ``lpips=None``).
    """
    check_net(net)
    path = resolve_backbone_path(net, backbone_path)  # fail before building anything
    lin_path = lpips_linear_path(net)
    import lpips
    with warnings.catch_warnings():
        # lpips passes the deprecated ``pretrained=False`` to torchvision: harmless here.
        warnings.simplefilter('ignore', UserWarning)
        model = lpips.LPIPS(pretrained=False, net=net, version=LPIPS_VERSION, pnet_rand=True,
                            verbose=False)
    lin_state = _load_state_dict(lin_path, 'LPIPS calibration weights')
    # ``lin<k>.*``; the same layers also appear as ``lins.<k>.*`` (a ModuleList view).
    lin_keys = {k for k in model.state_dict() if re.match(r'lin\d+\.', k)}
    if set(lin_state) != lin_keys:
        raise WeightsNotFoundError(
            f'{lin_path} does not hold the LPIPS {net} calibration layers '
            f'(expected {sorted(lin_keys)[:2]}..., got {sorted(lin_state)[:2]}...)')
    model.load_state_dict(lin_state, strict=False)
    _load_backbone(model.net, net, path)
    model.eval()
    model.requires_grad_(False)
    return model


__all__ = ['LPIPS_NETS', 'build_lpips', 'backbone_filename', 'default_backbone_path',
           'resolve_backbone_path', 'lpips_linear_path', 'check_net']
