"""PerceptualLoss over a frozen network: MaskCLIP (semantic-encoder config) or torchvision."""
import warnings

import pytest
import torch

from sair_toolbox.registry import LOSSES
from sair_toolbox.utils.errors import WeightsNotFoundError
from tests.test_configs.shrink import TINY_CLIP


def tiny_maskclip_loss(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random-init CLIP
        return LOSSES.build(dict(type='PerceptualLoss', feature_net=dict(
            type='MaskCLIPEncoder', arch='ViT-B-16', pretrained=None, model_cfg=TINY_CLIP),
            **kwargs))


def test_maskclip_perceptual_loss_is_zero_on_equal_images_and_trains_only_the_prediction():
    loss = tiny_maskclip_loss(loss_weight=2.0)
    target = torch.rand(2, 3, 32, 32)
    assert loss(target.clone(), target).item() == pytest.approx(0.0, abs=1e-10)
    pred = torch.rand(2, 3, 32, 32, requires_grad=True)
    value = loss(pred, target)
    assert value.dtype == torch.float32 and value > 0
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    net = loss.feature_net
    assert not net.training and all(not p.requires_grad for p in net.parameters())
    # Frozen and loaded from its own file: not a submodule, so not in checkpoints or optimizers.
    assert list(loss.parameters()) == [] and loss.state_dict() == {}


def test_torchvision_features_with_layer_weights():
    loss = LOSSES.build(dict(type='PerceptualLoss', criterion='l1', layer_weights=(1.0, 0.5),
                             feature_net=dict(type='TorchvisionFeatures', arch='resnet18',
                                              layers=('layer1', 'layer2'), pretrained=False)))
    pred, target = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    f, r = loss.features(pred), loss.features(target)
    assert [t.shape[1] for t in f] == [64, 128]
    expected = (f[0] - r[0]).abs().mean() + 0.5 * (f[1] - r[1]).abs().mean()
    assert torch.allclose(loss(pred, target), expected)


def test_missing_torchvision_weights_is_one_line(tmp_path):
    with pytest.raises(WeightsNotFoundError) as info:
        LOSSES.build(dict(type='PerceptualLoss', feature_net=dict(
            type='TorchvisionFeatures', arch='resnet50', weights_path=str(tmp_path))))
    msg = str(info.value)
    assert '\n' not in msg and 'resnet50' in msg and str(tmp_path) in msg and 'put the file' in msg
