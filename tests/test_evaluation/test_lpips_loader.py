"""LPIPS built from disk only: missing-weights errors, and equality with the lpips package.

The real ImageNet backbones cannot be downloaded here, so random-init torchvision state dicts are
saved under the file names torchvision expects in a temporary ``TORCH_HOME``; the lpips package
called directly (``lpips.LPIPS(pretrained=True)``) loads the same file, so both must agree.
"""
import os
import os.path as osp

import pytest
import torch
import torchvision

from sair_toolbox.evaluation.lpips_loader import (backbone_filename, build_lpips,
                                                  default_backbone_path, lpips_linear_path)
from sair_toolbox.utils.errors import ConfigError, WeightsNotFoundError

lpips = pytest.importorskip('lpips')
# lpips passes torchvision the deprecated ``pretrained`` argument
pytestmark = pytest.mark.filterwarnings('ignore::UserWarning')


def _random_state_dict(arch: str, light_classifier: bool = False, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    if not light_classifier:
        return getattr(torchvision.models, arch)(weights=None).state_dict()
    # VGG16's classifier is 120M parameters: zeros are as good (LPIPS never uses them) and fast
    with torch.device('meta'):
        shapes = {k: v.shape for k, v in getattr(torchvision.models, arch)().state_dict().items()}
    return {k: (torch.randn(s) * (2 / max(1, s[1:].numel()))**0.5 if k.startswith('features')
                and k.endswith('weight') else torch.zeros(s)) for k, s in shapes.items()}


@pytest.fixture(autouse=True)
def no_download(monkeypatch):
    """Any attempt to download weights fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f'network access attempted: {args}')
    monkeypatch.setattr(torch.hub, 'download_url_to_file', refuse)


@pytest.fixture(scope='module')
def torch_home(tmp_path_factory):
    """A TORCH_HOME holding random squeezenet1_1 and alexnet weights under torchvision's names."""
    home = tmp_path_factory.mktemp('torch_home')
    ckpt = home / 'hub' / 'checkpoints'
    ckpt.mkdir(parents=True)
    torch.save(_random_state_dict('squeezenet1_1'), ckpt / backbone_filename('squeeze'))
    torch.save(_random_state_dict('alexnet'), ckpt / backbone_filename('alex'))
    return str(home)


def _images(n=3, size=64):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 3, size, size, generator=g)
    y = (x + 0.15 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)
    return 2 * x - 1, 2 * y - 1


def test_missing_backbone_is_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    expected = osp.join(str(tmp_path), 'hub', 'checkpoints', 'vgg16-397923af.pth')
    assert default_backbone_path('vgg') == expected
    with pytest.raises(WeightsNotFoundError) as info:
        build_lpips('vgg')
    msg = str(info.value)
    assert '\n' not in msg
    assert 'vgg16-397923af.pth' in msg and f'put the file at {expected}' in msg
    assert 'or set lpips=None in the metric config' in msg
    # an explicit backbone_path (file or folder) is reported as such
    with pytest.raises(WeightsNotFoundError, match='alexnet-owt-7be5be79.pth'):
        build_lpips('alex', backbone_path=str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match=str(tmp_path / 'nope.pth')):
        build_lpips('alex', backbone_path=str(tmp_path / 'nope.pth'))
    with pytest.raises(ConfigError, match="'alex', 'squeeze', 'vgg'"):
        build_lpips('resnet')


def test_linear_weights_ship_with_lpips():
    for net in ('alex', 'vgg', 'squeeze'):
        path = lpips_linear_path(net)
        assert osp.isfile(path) and path.endswith(osp.join('weights', 'v0.1', f'{net}.pth'))


@pytest.mark.parametrize('net', ['squeeze', 'alex'])
def test_equals_lpips_package(net, torch_home, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', torch_home)
    x, y = _images()
    ours = build_lpips(net)
    assert not ours.training and not any(p.requires_grad for p in ours.parameters())
    ref = lpips.LPIPS(net=net, pretrained=True, verbose=False)
    with torch.no_grad():
        a, b = ours(x, y).flatten(), ref(x, y).flatten()
    assert a.shape == (3, ) and (a > 0).all()
    assert torch.allclose(a, b, atol=1e-6, rtol=0)
    # backbone_path as a folder finds the same file
    same = build_lpips(net, backbone_path=osp.join(torch_home, 'hub', 'checkpoints'))
    assert torch.allclose(same(x, y).flatten(), a, atol=1e-6, rtol=0)


def test_backbone_file_is_really_used(tmp_path, torch_home):
    x, y = _images()
    other = tmp_path / backbone_filename('squeeze')
    torch.save(_random_state_dict('squeezenet1_1', seed=1), other)
    path = osp.join(torch_home, 'hub', 'checkpoints', backbone_filename('squeeze'))
    with torch.no_grad():
        a = build_lpips('squeeze', backbone_path=path)(x, y).flatten()
        b = build_lpips('squeeze', backbone_path=str(other))(x, y).flatten()
    assert (a - b).abs().max() > 1e-3


def test_vgg_equals_lpips_package(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    path = default_backbone_path('vgg')
    os.makedirs(osp.dirname(path))
    torch.save(_random_state_dict('vgg16', light_classifier=True), path)
    x, y = _images(n=2, size=32)
    with torch.no_grad():
        a = build_lpips('vgg')(x, y).flatten()
        b = lpips.LPIPS(net='vgg', pretrained=True, verbose=False)(x, y).flatten()
    assert torch.allclose(a, b, atol=1e-6, rtol=0)


def test_wrong_or_corrupt_backbone_file(tmp_path, torch_home):
    corrupt = tmp_path / backbone_filename('squeeze')
    corrupt.write_bytes(b'not a checkpoint')
    with pytest.raises(WeightsNotFoundError, match='cannot read LPIPS backbone'):
        build_lpips('squeeze', backbone_path=str(corrupt))
    # alexnet weights under the squeezenet name: refused, not silently half-loaded
    alex = osp.join(torch_home, 'hub', 'checkpoints', backbone_filename('alex'))
    with pytest.raises(WeightsNotFoundError, match='not a torchvision squeezenet1_1 state dict'):
        build_lpips('squeeze', backbone_path=alex)
