"""The segmentation check (paper Tab. 5) with a fake model: labels, mIoU, the evaluation loop."""
import json
import math

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from sair_toolbox.evaluation.segmentation import (SegmentationMIoU, evaluate_segmentation,
                                                  format_segmentation_table)
from sair_toolbox.structures.inpaint_data_sample import InpaintDataSample
from sair_toolbox.utils.errors import DataError, ShapeError
from sair_toolbox.utils.jsonable import jsonable

L, C, S = 4, 8, 16  # classes, embedding channels, image side


def _text():
    g = torch.Generator().manual_seed(0)
    return torch.randn(L, C, generator=g) * 3  # deliberately not unit norm


def test_miou_by_hand_and_conventions():
    meter = SegmentationMIoU(num_classes=4, ignore_index=255, class_names=list('abcd'))
    gt = torch.tensor([[0, 0, 1, 1], [2, 2, 255, 255]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 0, 3, 0]])
    meter.update(pred, gt)
    r = meter.compute()
    # class 0: TP 1, FP 1 (pred 0 at gt 2), FN 1 -> 1/3; class 1: TP 2, FP 1 -> 2/3;
    # class 2: TP 1, FN 1 -> 1/2; class 3: never in gt, only predicted on an ignored pixel -> nan
    assert r['IoU'][:3] == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert math.isnan(r['IoU'][3])
    assert r['mIoU'] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert r['aAcc'] == pytest.approx(4 / 6) and r['num_pixels'] == 6
    assert r['mAcc'] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert r['classes'] == list('abcd')
    # a class only predicted (union > 0, IoU 0) counts in the mean, like mmseg
    meter.update(torch.tensor([3]), torch.tensor([0]))
    assert meter.compute()['IoU'][3] == 0.0
    # region restriction
    region = SegmentationMIoU(4)
    region.update(pred, gt, valid=torch.tensor([[1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool))
    assert region.compute()['aAcc'] == 1.0 and region.compute()['num_pixels'] == 1
    with pytest.raises(DataError, match='ground-truth label 7'):
        region.update(pred, torch.full_like(gt, 7))
    with pytest.raises(ShapeError, match='same shape'):
        region.update(pred, gt[0])
    assert math.isnan(SegmentationMIoU(3).compute()['mIoU'])


def test_miou_equals_numpy_reference_on_random_maps():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 6, (3, 20, 20))
    gt[rng.random(gt.shape) < 0.1] = 255
    pred = np.where(rng.random(gt.shape) < 0.6, gt, rng.integers(0, 6, gt.shape)) % 6
    meter = SegmentationMIoU(6)
    for b in range(3):
        meter.update(torch.from_numpy(pred[b]), torch.from_numpy(gt[b]))
    keep = gt != 255
    ious = []
    for k in range(6):
        inter = np.sum((pred == k) & (gt == k) & keep)
        union = np.sum(((pred == k) | (gt == k)) & keep)
        ious.append(inter / union if union else np.nan)
    assert meter.compute()['mIoU'] == pytest.approx(np.nanmean(ious), abs=1e-12)


class FakePreprocessor:
    """Stacks uint8 inputs to float [0, 1], like the real data preprocessor."""

    def __call__(self, batch, training=False):
        assert training is False
        return dict(inputs=torch.stack(batch['inputs']).float() / 255,
                    data_samples=batch['data_samples'])


class FakeModel(torch.nn.Module):
    """Reads the class of each pixel from the image's red channel (label * 60).

    Without SIR it sees the masked image, so the hole reads as class 0 (black); with SIR it
    "completes" the field perfectly. Features are the class embedding times a random positive
    scale plus a little noise.
    """

    def __init__(self, text):
        super().__init__()
        self.text = text
        self.data_preprocessor = FakePreprocessor()
        self.calls = []

    def semantic_features(self, inputs, masks, use_sir, size):
        self.calls.append((use_sir, tuple(size)))
        img = inputs if use_sir else inputs * (1 - masks)
        labels = torch.round(img[:, 0] * 255 / 60).long().clamp(0, L - 1)  # (B, H, W)
        feats = self.text[labels].permute(0, 3, 1, 2)  # (B, C, H, W)
        g = torch.Generator().manual_seed(len(self.calls))
        scale = torch.rand(labels.shape, generator=g)[:, None] + 0.5
        return feats * scale + 0.01 * torch.randn(feats.shape, generator=g)


def _dataset(n=5):
    g = torch.Generator().manual_seed(2)
    items = []
    for i in range(n):
        gt = torch.randint(0, L, (S, S), generator=g)
        gt[0, :3] = 255  # some unlabelled pixels
        img = torch.zeros(3, S, S, dtype=torch.uint8)
        img[0] = (gt.clamp(max=L - 1) * 60).to(torch.uint8)
        mask = torch.zeros(1, S, S)
        mask[:, 4:12, 2:10 + i] = 1
        ds = InpaintDataSample(metainfo=dict(img_path=f'{i}.png',
                                             mask_bin='20-40' if i % 2 else '0-20'))
        ds.mask = mask
        ds.gt_sem_seg = gt
        items.append(dict(inputs=img, data_samples=ds))
    return items


def _reference(items, use_sir, region):
    meter = SegmentationMIoU(L)
    for it in items:
        gt = it['data_samples'].gt_sem_seg
        hole = it['data_samples'].mask[0] > 0.5
        pred = gt.clamp(max=L - 1).clone() if use_sir else torch.where(
            hole, torch.zeros_like(gt), gt.clamp(max=L - 1))
        meter.update(pred, gt, valid=hole if region == 'hole' else None)
    return meter.compute()


def test_evaluate_segmentation_with_fake_model():
    items = _dataset()
    loader = [pseudo_collate(items[i:i + 2]) for i in range(0, len(items), 2)]
    model = FakeModel(_text())
    result = evaluate_segmentation(model, loader, _text(), device='cpu', class_names=list('wxyz'))
    assert result['num_images'] == 5 and result['num_classes'] == L
    assert set(model.calls) == {(False, (S, S)), (True, (S, S))}
    for region in ('all', 'hole'):
        assert result['with_sir'][region]['mIoU'] == pytest.approx(1.0)
        for variant, use_sir in (('without_sir', False), ('with_sir', True)):
            ref = _reference(items, use_sir, region)
            assert result[variant][region]['mIoU'] == pytest.approx(ref['mIoU'], abs=1e-12)
            assert result[variant][region]['aAcc'] == pytest.approx(ref['aAcc'], abs=1e-12)
    assert result['without_sir']['hole']['mIoU'] < result['without_sir']['all']['mIoU'] < 1
    assert result['without_sir']['all']['classes'] == list('wxyz')
    # the mask-bin filter scores only the matching samples
    only = evaluate_segmentation(FakeModel(_text()), loader, _text(), mask_bin='20-40')
    assert only['num_images'] == 2 and only['mask_bin'] == '20-40'
    ref = _reference([items[1], items[3]], False, 'hole')
    assert only['without_sir']['hole']['mIoU'] == pytest.approx(ref['mIoU'], abs=1e-12)
    with pytest.raises(DataError, match="no sample has mask_bin '40-60'"):
        evaluate_segmentation(FakeModel(_text()), loader, _text(), mask_bin='40-60')
    # report: a table and strict JSON
    table = format_segmentation_table(result, title='fake')
    assert 'without SIR' in table and 'with SIR' in table and 'mIoU (hole)' in table
    assert '1.000' in table.splitlines()[-2]
    text = json.dumps(jsonable(result), allow_nan=False)
    assert json.loads(text)['with_sir']['all']['mIoU'] == pytest.approx(1.0)


def test_evaluate_segmentation_needs_labels():
    items = _dataset(2)
    for it in items:
        del it['data_samples'].gt_sem_seg
    with pytest.raises(DataError, match="no 'gt_sem_seg'"):
        evaluate_segmentation(FakeModel(_text()), [pseudo_collate(items)], _text())
