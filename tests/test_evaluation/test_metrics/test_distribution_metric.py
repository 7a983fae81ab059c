"""DistributionMetric: FID/KID equal torch-fidelity's on the same (random-weight) Inception,
P-IDS/U-IDS follow CoModGAN's definition, per bin beside InpaintingMetric."""
import warnings

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from sair_toolbox.evaluation.distribution_stats import (fid_from_features, ids_from_features,
                                                        kid_from_features)
from sair_toolbox.evaluation.metrics import DistributionMetric, InpaintingMetric
from sair_toolbox.evaluation.results_table import format_table
from sair_toolbox.utils.errors import WeightsNotFoundError
from tests.random_inception import save_random_inception
from tests.test_configs.shrink import TINY_CLIP

torch_fidelity = pytest.importorskip('torch_fidelity')


@pytest.fixture(scope='module')
def random_inception(tmp_path_factory):
    return save_random_inception(tmp_path_factory.mktemp('inception'))


class _Images(torch.utils.data.Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


def _pairs(n=10, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(n, 3, size, size, generator=g)
    out = (gt + 0.3 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)
    return gt, out


def _samples(gt, out, bins):
    return [dict(gt_img=gt[i], output_img=out[i], mask_bin=bins[i % len(bins)])
            for i in range(len(gt))]


@pytest.mark.parametrize('layer', ['64'])  # '2048' is the same code, 5x slower on CPU
def test_fid_and_kid_equal_torch_fidelity_on_the_same_inception(random_inception, layer):
    gt, out = _pairs(n=6)  # Inception runs at 299 x 299 whatever the input: keep n small
    metric = DistributionMetric(feature_net=dict(type='InceptionV3', weights_path=random_inception,
                                                 feature_layer=layer),
                                kid_subset_size=len(gt), log_table=False)
    metric.process(None, _samples(gt, out, ['0-20']))
    ours = metric.compute_metrics(metric.results)
    to_u8 = lambda x: torch.round(x * 255).clamp(0, 255).to(torch.uint8)  # noqa: E731
    ref = torch_fidelity.calculate_metrics(
        input1=_Images(to_u8(gt)), input2=_Images(to_u8(out)), fid=True, kid=True, cuda=False,
        cache=False, verbose=False, feature_extractor_weights_path=random_inception,
        feature_layer_fid=layer, feature_layer_kid=layer, kid_subset_size=len(gt),
        batch_size=len(gt), save_cpu_ram=True)  # save_cpu_ram: no worker processes
    assert ours['all/FID'] > 1e-3 and abs(ours['all/KID']) > 1e-6  # not a vacuous comparison
    assert ours['all/FID'] == pytest.approx(ref['frechet_inception_distance'], rel=1e-4)
    assert ours['all/KID'] == pytest.approx(ref['kernel_inception_distance_mean'], rel=1e-4)
    assert {'0-20/FID', '0-20/KID', 'all/P-IDS', 'all/U-IDS'} <= set(ours)


def test_statistics_match_torch_fidelitys_functions():
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    g = np.random.RandomState(0)
    real, fake = g.randn(40, 16), g.randn(30, 16) * 1.3 + 0.2
    ref = fid_statistics_to_metric(fid_features_to_statistics(torch.from_numpy(real)),
                                   fid_features_to_statistics(torch.from_numpy(fake)), False)
    assert fid_from_features(real, fake) == pytest.approx(ref['frechet_inception_distance'],
                                                         rel=1e-6)
    # Fewer images than dimensions: the (N, M) nuclear-norm path.
    few_r, few_f = real[:10], fake[:8]
    ref = fid_statistics_to_metric(fid_features_to_statistics(torch.from_numpy(few_r)),
                                   fid_features_to_statistics(torch.from_numpy(few_f)), False)
    assert fid_from_features(few_r, few_f) == pytest.approx(ref['frechet_inception_distance'],
                                                           rel=1e-6)
    kid = kid_features_to_metric(torch.from_numpy(real), torch.from_numpy(fake),
                                 kid_subsets=20, kid_subset_size=25, verbose=False)
    ours = kid_from_features(real, fake, subsets=20, subset_size=25)
    assert ours['mean'] == pytest.approx(kid['kernel_inception_distance_mean'], rel=1e-8)
    assert ours['std'] == pytest.approx(kid['kernel_inception_distance_std'], rel=1e-8)


def test_ids_follow_comodgans_definition():
    from sklearn.svm import LinearSVC
    g = np.random.RandomState(0)
    real = g.randn(50, 8)
    fake = real + g.randn(50, 8) * 0.8 + 0.3
    ids = ids_from_features(real, fake)
    # CoModGAN's code: U-IDS = 1 - accuracy on the training set, P-IDS = mean(fake > real).
    svm = LinearSVC(dual=False).fit(np.concatenate([real, fake]), [1] * 50 + [0] * 50)
    assert ids['U-IDS'] == pytest.approx(1 - svm.score(np.concatenate([real, fake]),
                                                       [1] * 50 + [0] * 50))
    assert ids['P-IDS'] == pytest.approx(np.mean(svm.decision_function(fake)
                                                 > svm.decision_function(real)))
    far = ids_from_features(real, real + 10)
    assert far['U-IDS'] == 0 and far['P-IDS'] == 0


def test_demo_network_per_bin_beside_inpainting_metric():
    """A non-Inception network by config, 'demo-' names, one evaluator with InpaintingMetric."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dist = DistributionMetric(feature_net=dict(type='MaskCLIPEncoder', arch='ViT-B-16',
                                                   pretrained=None, model_cfg=TINY_CLIP),
                                  name_prefix='demo-', log_table=False)
    evaluator = Evaluator([InpaintingMetric(lpips=None, log_table=False), dist])
    gt, out = _pairs(n=8)
    evaluator.process(_samples(gt, out, ['0-20', '20-40', '40-60', None]))
    metrics = evaluator.evaluate(8)
    for b in ('0-20', '20-40', '40-60', 'all'):
        assert {f'{b}/PSNR', f'{b}/demo-FID', f'{b}/demo-KID', f'{b}/demo-P-IDS',
                f'{b}/demo-U-IDS'} <= set(metrics), b
    assert metrics['all/count'] == 8
    table = format_table(metrics)
    assert 'demo-FID↓' in table and 'demo-P-IDS↑' in table


def test_missing_inception_weights_is_one_line(tmp_path):
    with pytest.raises(WeightsNotFoundError) as info:
        DistributionMetric(feature_net=dict(type='InceptionV3', weights_path=str(tmp_path)))
    msg = str(info.value)
    assert '\n' not in msg and 'weights-inception-2015-12-05-6726825d.pth' in msg
    assert str(tmp_path) in msg and 'put the file at' in msg
