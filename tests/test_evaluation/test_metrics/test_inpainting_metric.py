"""InpaintingMetric: per-bin PSNR / SSIM / L1 / LPIPS, checked against scikit-image and lpips."""
import math
import os.path as osp
import random

import numpy as np
import pytest
import torch
import torchvision
from mmengine.registry import init_default_scope

from sair_toolbox.evaluation import InpaintingMetric
from sair_toolbox.evaluation.lpips_loader import backbone_filename
from sair_toolbox.registry import METRICS
from sair_toolbox.structures.inpaint_data_sample import InpaintDataSample
from sair_toolbox.utils.errors import ConfigError, DataError, ShapeError, WeightsNotFoundError

skimage_data = pytest.importorskip('skimage.data')
from skimage.metrics import peak_signal_noise_ratio, structural_similarity  # noqa: E402

pytestmark = pytest.mark.filterwarnings('ignore::UserWarning')

SIZE = 48


def _photos():
    """Four 48x48 crops of real photos as (3, H, W) float in [0, 1] (uint8-exact)."""
    crops = [skimage_data.astronaut()[40:88, 200:248], skimage_data.chelsea()[100:148, 150:198],
             skimage_data.coffee()[150:198, 250:298], skimage_data.rocket()[200:248, 300:348]]
    return [torch.from_numpy(np.ascontiguousarray(c)).permute(2, 0, 1).float() / 255
            for c in crops]


def _samples(as_elements=False):
    """Inpainting results with holes of different sizes; one outside every bin (ratio 0.7)."""
    g = torch.Generator().manual_seed(0)
    out = []
    for i, (gt, (h, bin_)) in enumerate(zip(_photos(), [(14, '0-20'), (26, '20-40'),
                                                        (33, '40-60'), (40, None)])):
        mask = torch.zeros(1, SIZE, SIZE)
        mask[:, 4:4 + h, 6:6 + h] = 1
        # a plausible prediction: blurred + noisy ground truth, not uint8-exact
        pred = (torch.nn.functional.avg_pool2d(gt[None], 5, 1, 2)[0]
                + 0.03 * torch.randn(gt.shape, generator=g)).clamp(0, 1)
        fields = dict(gt_img=gt, pred_img=pred, output_img=gt * (1 - mask) + pred * mask,
                      mask=mask)
        meta = dict(mask_ratio=float(mask.mean()), mask_bin=bin_, img_path=f'img{i}.png')
        if as_elements:
            s = InpaintDataSample(metainfo=meta)
            s.set_data(fields)
            out.append(s)
        else:
            out.append({**fields, **meta})
    return out


def _u8(img):
    return np.round(img.permute(1, 2, 0).numpy().astype(np.float64) * 255).clip(0, 255).astype(
        np.uint8)


def _reference(samples, key='output_img', masked_input=False):
    """Per-image PSNR / SSIM / L1 computed with scikit-image / numpy."""
    refs = []
    for s in samples:
        gt = _u8(s['gt_img'])
        out = _u8(s['gt_img'] * (1 - s['mask'])) if masked_input else _u8(s[key])
        refs.append(dict(
            PSNR=peak_signal_noise_ratio(gt, out, data_range=255),
            SSIM=structural_similarity(gt, out, channel_axis=-1, data_range=255),
            L1=np.abs(gt.astype(np.float64) - out).mean() / 255))
    return refs


def _run(metric, samples, batch=2):
    for i in range(0, len(samples), batch):
        metric.process({}, samples[i:i + batch])
    return metric.evaluate(len(samples))


def test_bins_counts_and_means_equal_skimage():
    samples = _samples()
    metrics = _run(InpaintingMetric(lpips=None), samples)
    refs = _reference(samples)
    expected_keys = {f'{b}/{m}' for b in ('0-20', '20-40', '40-60', 'all')
                     for m in ('PSNR', 'SSIM', 'L1', 'count')}
    assert set(metrics) == expected_keys  # no LPIPS keys when it is disabled, no prefix
    for b, idx in (('0-20', [0]), ('20-40', [1]), ('40-60', [2]), ('all', [0, 1, 2, 3])):
        assert metrics[f'{b}/count'] == len(idx)
        for m in ('PSNR', 'SSIM', 'L1'):
            assert metrics[f'{b}/{m}'] == pytest.approx(np.mean([refs[i][m] for i in idx]),
                                                        abs=1e-6), (b, m)
    # sanity of the numbers: bigger holes, more error
    assert metrics['0-20/L1'] < metrics['20-40/L1'] < metrics['40-60/L1']


def test_raw_score_and_masked_input_and_data_elements():
    samples = _samples(as_elements=True)
    dicts = _samples()
    metrics = _run(InpaintingMetric(lpips=None, score='raw', report_input=True,
                                    prefix='inpaint'), samples)
    raw, inp = _reference(dicts, key='pred_img'), _reference(dicts, masked_input=True)
    for m in ('PSNR', 'SSIM', 'L1'):
        assert metrics[f'inpaint/all/{m}'] == pytest.approx(np.mean([r[m] for r in raw]),
                                                            abs=1e-6)
        assert metrics[f'inpaint/all/input_{m}'] == pytest.approx(
            np.mean([r[m] for r in inp]), abs=1e-6)
        assert metrics[f'inpaint/40-60/input_{m}'] == pytest.approx(inp[2][m], abs=1e-6)
    assert metrics['inpaint/all/input_PSNR'] < metrics['inpaint/all/PSNR']


def test_lpips_equals_lpips_package(tmp_path, monkeypatch):
    lpips = pytest.importorskip('lpips')
    ckpt = tmp_path / 'hub' / 'checkpoints'
    ckpt.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.squeezenet1_1(weights=None).state_dict(),
               ckpt / backbone_filename('squeeze'))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    samples = _samples()
    metric = InpaintingMetric(lpips='squeeze', report_input=True, lpips_batch_size=3)
    metrics = _run(metric, samples, batch=4)
    ref = lpips.LPIPS(net='squeeze', pretrained=True, verbose=False)
    to_pm1 = [lambda s: torch.from_numpy(_u8(s['gt_img'])).permute(2, 0, 1).float() / 255,
              lambda s: torch.from_numpy(_u8(s['output_img'])).permute(2, 0, 1).float() / 255]
    gt = torch.stack([to_pm1[0](s) for s in samples])
    out = torch.stack([to_pm1[1](s) for s in samples])
    with torch.no_grad():
        d = ref(gt, out, normalize=True).flatten()  # the package's own [0, 1] -> [-1, 1]
    assert metrics['all/LPIPS'] == pytest.approx(d.double().mean().item(), abs=1e-6)
    assert metrics['20-40/LPIPS'] == pytest.approx(d[1].item(), abs=1e-6)
    assert 'all/input_LPIPS' in metrics and metrics['all/input_LPIPS'] > metrics['all/LPIPS']


def test_missing_lpips_weights_fail_the_build(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    init_default_scope('sair_toolbox')
    with pytest.raises(WeightsNotFoundError) as info:
        METRICS.build(dict(type='InpaintingMetric'))
    msg = str(info.value)
    assert '\n' not in msg and 'vgg16-397923af.pth' in msg and 'lpips=None' in msg
    assert osp.join(str(tmp_path), 'hub', 'checkpoints') in msg
    metric = METRICS.build(dict(type='InpaintingMetric', lpips=None))
    assert isinstance(metric, InpaintingMetric)


def test_bin_assignment_rules():
    samples = _samples()
    del samples[0]['mask_bin']  # assigned from mask_ratio (14*14/48**2 = 0.085 -> '0-20')
    samples[1]['mask_bin'] = None  # default bins: None counts only in 'all'
    metrics = _run(InpaintingMetric(lpips=None), samples)
    assert [metrics[f'{b}/count'] for b in ('0-20', '20-40', '40-60', 'all')] == [1, 0, 1, 4]
    assert '20-40/PSNR' not in metrics  # an empty bin reports only its count
    # custom bins: assigned from the ratio (0.085, 0.293, 0.473, 0.694)
    metrics = _run(InpaintingMetric(lpips=None, bins=[(0, 0.1), (0.1, 0.5), (0.5, 0.7)]),
                   _samples())
    assert [metrics[f'{b}/count'] for b in ('0-10', '10-50', '50-70', 'all')] == [1, 2, 1, 4]


def test_result_order_does_not_change_the_means():
    metric = InpaintingMetric(lpips=None)
    for s in _samples():
        metric.process({}, [s])
    results = list(metric.results)
    assert all(isinstance(v, (float, int, str, type(None))) for r in results for v in r.values())
    a = metric.compute_metrics(results)
    random.Random(0).shuffle(results)
    assert metric.compute_metrics(results) == a


def test_errors():
    with pytest.raises(ConfigError, match="'composite' or 'raw'"):
        InpaintingMetric(lpips=None, score='pred')
    with pytest.raises(ConfigError, match='bins'):
        InpaintingMetric(lpips=None, bins=[(0.4, 0.2)])
    with pytest.raises(ConfigError, match='LPIPS net'):
        InpaintingMetric(lpips='resnet')
    metric = InpaintingMetric(lpips=None)
    s = _samples()[0]
    del s['output_img']
    with pytest.raises(DataError, match="no 'output_img'"):
        metric.process({}, [s])
    s = _samples()[0]
    s['output_img'] = s['output_img'][:, :20]
    with pytest.raises(ShapeError, match='differ'):
        metric.process({}, [s])


def test_perfect_output_gives_inf_psnr_like_skimage():
    s = _samples()[0]
    s['output_img'] = s['gt_img'].clone()
    metrics = _run(InpaintingMetric(lpips=None), [s])
    assert math.isinf(metrics['all/PSNR']) and metrics['all/SSIM'] == pytest.approx(1)


def test_keep_records_survives_evaluate():
    samples = _samples()
    plain = InpaintingMetric(lpips=None)
    _run(plain, samples)
    assert plain.records == [] and plain.results == []
    metric = InpaintingMetric(lpips=None, keep_records=True, report_input=True)
    metrics = _run(metric, samples)
    assert metric.results == []  # cleared by evaluate, as MMEngine does
    assert [r['img_path'] for r in metric.records] == [s['img_path'] for s in samples]
    assert [r['bin'] for r in metric.records] == [s['mask_bin'] for s in samples]
    assert {'PSNR', 'SSIM', 'L1', 'input_PSNR'} <= set(metric.records[0])
    assert np.mean([r['PSNR'] for r in metric.records]) == pytest.approx(metrics['all/PSNR'])
    _run(metric, samples[:2])  # the next evaluation replaces them
    assert len(metric.records) == 2


def test_runs_in_the_runner_test_loop(tmp_path):
    """The plain mmengine TestLoop with the metric from a config dict."""
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Dataset(torch.utils.data.Dataset):
        metainfo = dict(name='photos')

        def __init__(self):
            self.samples = _samples()

        def __len__(self):
            return len(self.samples)

        def __getitem__(self, i):
            s = self.samples[i]
            ds = InpaintDataSample(metainfo=dict(img_path=s['img_path'],
                                                 mask_ratio=s['mask_ratio'],
                                                 mask_bin=s['mask_bin']))
            ds.mask = s['mask']
            return dict(inputs=(s['gt_img'] * 255).round().to(torch.uint8), data_samples=ds)

    class Model(BaseModel):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = []
            for img, ds in zip(inputs, data_samples):
                gt = img.float() / 255
                pred = torch.full_like(gt, 0.5) + self.w
                ds.gt_img, ds.pred_img = gt, pred
                ds.output_img = gt * (1 - ds.mask) + pred * ds.mask
                out.append(ds)
            return out

    runner = Runner(
        model=Model(), work_dir=str(tmp_path), default_scope='sair_toolbox',
        test_dataloader=dict(dataset=Dataset(), batch_size=3, num_workers=0,
                             sampler=dict(type='DefaultSampler', shuffle=False)),
        test_evaluator=dict(type='InpaintingMetric', lpips=None), test_cfg=dict(),
        log_level='WARNING')
    metrics = runner.test()
    assert metrics['all/count'] == 4 and metrics['40-60/count'] == 1
    ref = []
    for s in _samples():
        s['output_img'] = s['gt_img'] * (1 - s['mask']) + 0.5 * s['mask']
        ref.append(s)
    assert metrics['all/PSNR'] == pytest.approx(
        np.mean([r['PSNR'] for r in _reference(ref)]), abs=1e-6)


def _dist_worker(rank, world_size, port, out_dir):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size)
    try:
        metric = InpaintingMetric(lpips=None)
        samples = _samples()
        # DefaultSampler-style interleaving; rank 1 gets a padded duplicate of sample 0
        mine = (samples + samples[:1])[rank::world_size]
        metric.process({}, mine)
        metrics = metric.evaluate(len(samples))
        torch.save(metrics, osp.join(out_dir, f'rank{rank}.pth'))
    finally:
        dist.destroy_process_group()


def test_distributed_collection_equals_single_process(tmp_path):
    """Two gloo processes, results gathered on CPU: the same numbers as one process."""
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    mp.spawn(_dist_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    single = _run(InpaintingMetric(lpips=None), _samples())
    for rank in range(2):
        assert torch.load(tmp_path / f'rank{rank}.pth') == pytest.approx(single, abs=1e-12)
