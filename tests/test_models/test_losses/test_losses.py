"""The registered losses: the paper's L1 and semantic L1, adversarial, R1, feature matching."""
import pytest
import torch
import torch.nn.functional as F

from sair_toolbox.registry import LOSSES
from sair_toolbox.utils.errors import ConfigError, ShapeError


def build(type_, **kwargs):
    return LOSSES.build(dict(type=type_, **kwargs))


def test_l1_is_the_mean_absolute_error_in_float32():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g)
    loss = build('L1Loss', loss_weight=2.0)(pred.bfloat16(), target)
    assert loss.dtype == torch.float32
    assert torch.allclose(loss, 2 * F.l1_loss(pred.bfloat16().float(), target))
    mask = torch.zeros(2, 1, 8, 8)
    mask[..., :4, :] = 1
    weighted = build('L1Loss', hole_weight=3.0)(pred, target, mask)
    w = 1 + 3 * mask
    assert torch.allclose(weighted, ((pred - target).abs() * w).mean() / w.mean())
    with pytest.raises(ConfigError, match='needs the mask'):
        build('L1Loss', hole_weight=1.0)(pred, target)
    with pytest.raises(ShapeError):
        build('L1Loss')(pred, target[:, :1])


def test_semantic_l1_equals_sairs_inline_loss():
    """The registered form gives SAIR's loss_sem for the same batch."""
    import warnings

    from mmengine.config import Config

    from sair_toolbox.engine.setup import register_all_modules
    from sair_toolbox.registry import MODELS
    from tests.test_configs.shrink import shrink
    from tests.tiny_sair import ROOT
    register_all_modules()
    cfg = Config.fromfile(f'{ROOT}/configs/sair/sair_demo.py')
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(dict(shrink(cfg.model.to_dict()), sem_loss_weight=0.7))
    img = torch.rand(2, 3, 32, 32)
    mask = (torch.rand(2, 1, 32, 32) > 0.5).float()
    expected = model.loss(img, mask)['loss_sem']
    grid = model.sir.encode(img * (1 - mask), mask)
    got = build('SemanticL1Loss', loss_weight=0.7)(model.sir.reconstruct(grid),
                                                   model.sir.target(img))
    assert torch.allclose(got, expected, atol=1e-6)


def test_nonsaturating_matches_binary_cross_entropy():
    logits = torch.randn(3, 1, 4, 4)
    loss = build('AdversarialLoss', gan_type='nonsaturating', loss_weight=0.5)
    ones, zeros = torch.ones_like(logits), torch.zeros_like(logits)
    bce = F.binary_cross_entropy_with_logits
    assert torch.allclose(loss(logits, True, is_disc=True), bce(logits, ones))
    assert torch.allclose(loss(logits, False, is_disc=True), bce(logits, zeros))
    # The generator side is weighted; the discriminator side never is.
    assert torch.allclose(loss(logits, True, is_disc=False), 0.5 * bce(logits, ones))


def test_hinge_and_multiscale_mean():
    a, b = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 2, 2)
    loss = build('AdversarialLoss', gan_type='hinge')
    assert torch.allclose(loss(a, True, is_disc=True), F.relu(1 - a).mean())
    assert torch.allclose(loss(a, False, is_disc=True), F.relu(1 + a).mean())
    assert torch.allclose(loss(a, True), -a.mean())
    assert torch.allclose(loss([a, b], True), (-a.mean() - b.mean()) / 2)
    with pytest.raises(ConfigError, match='gan_type'):
        build('AdversarialLoss', gan_type='wgan')


def test_r1_of_a_linear_critic_is_the_squared_weight_norm():
    w = torch.randn(1, 3, 4, 4, requires_grad=True)
    real = torch.rand(5, 3, 4, 4).requires_grad_(True)
    logits = (real * w).flatten(1).sum(1).view(5, 1, 1, 1)
    penalty = build('R1Penalty', loss_weight=0.25)([logits], real)
    assert torch.allclose(penalty, 0.25 * w.detach().pow(2).sum())
    assert penalty.requires_grad  # create_graph: it trains the critic
    with pytest.raises(ConfigError, match='require grad'):
        build('R1Penalty')(logits, real.detach())
    assert build('R1Penalty', loss_weight=0)(logits, real.detach()) == 0


def test_feature_matching_pulls_only_the_fakes():
    fake = [[torch.randn(2, 4, 8, 8, requires_grad=True), torch.randn(2, 8, 4, 4,
                                                                     requires_grad=True)]]
    real = [[torch.randn(2, 4, 8, 8, requires_grad=True), torch.randn(2, 8, 4, 4,
                                                                     requires_grad=True)]]
    loss = build('FeatureMatchingLoss', loss_weight=2.0)(fake, real)
    expected = 2 * (F.l1_loss(fake[0][0], real[0][0]) + F.l1_loss(fake[0][1], real[0][1])) / 2
    assert torch.allclose(loss, expected)
    loss.backward()
    assert fake[0][0].grad is not None and real[0][0].grad is None
    with pytest.raises(ConfigError, match='structure'):
        build('FeatureMatchingLoss')(fake, [real[0][:1]])
