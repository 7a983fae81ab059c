"""Geometric transforms keep image, labels and mask aligned; packing checks shapes."""
import numpy as np
import pytest
import torch

from sair_toolbox.datasets.transforms import (CenterCrop, LoadImage, LoadLabelMap,
                                              PackInpaintInputs, RandomCrop, RandomFlip,
                                              RandomResizedCrop, Resize)
from sair_toolbox.registry import TRANSFORMS
from sair_toolbox.structures import InpaintDataSample
from sair_toolbox.utils.errors import ConfigError, DataError, ShapeError


def _results(h=20, w=30):
    """Image whose red channel encodes the column, label = row band, mask = left half."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (np.arange(w) * 255 // (w - 1))[None]
    img[..., 1] = (np.arange(h) * 255 // (h - 1))[:, None]
    seg = np.repeat((np.arange(h) * 4 // h)[:, None], w, 1).astype(np.int64)
    mask = np.zeros((h, w), np.float32)
    mask[:, :w // 2] = 1
    return dict(img=img, gt_seg_map=seg, mask=mask, img_path='x.png', img_shape=(h, w),
                ori_shape=(h, w), sample_idx=0, mask_source='test')


def _aligned(res):
    """Label follows the green channel (rows), mask follows the red channel (columns)."""
    img, seg, mask = res['img'], res['gt_seg_map'], res['mask']
    assert img.shape[:2] == seg.shape == mask.shape == tuple(res['img_shape'])
    assert set(np.unique(mask)) <= {0.0, 1.0} and seg.dtype == np.int64
    # rows: a larger label never has a smaller green value
    order = np.argsort(img[:, img.shape[1] // 2, 1], kind='stable')
    assert (np.diff(seg[order, 0]) >= 0).all() or (np.diff(seg[order[::-1], 0]) >= 0).all()
    red_in_hole = img[..., 0][mask == 1]
    red_out = img[..., 0][mask == 0]
    if red_in_hole.size and red_out.size:
        assert red_in_hole.max() <= red_out.min() + 12 or red_in_hole.min() >= red_out.max() - 12


def test_resize_fixed_and_keep_ratio():
    res = Resize(size=(10, 12))(_results())
    assert res['img'].shape == (10, 12, 3) and res['img_shape'] == (10, 12)
    _aligned(res)
    res = Resize(size=10, keep_ratio=True)(_results())
    assert res['img'].shape == (10, 15, 3)
    _aligned(res)
    res = Resize(size=40, keep_ratio=True)(_results(30, 20))
    assert res['img'].shape == (60, 40, 3)
    with pytest.raises(ConfigError):
        Resize(size=(4, 4), keep_ratio=True)
    with pytest.raises(ConfigError):
        Resize(size=4, interpolation='magic')


def test_crops_and_flip_keep_alignment():
    np.random.seed(0)
    for t in [CenterCrop(12), RandomCrop((10, 14)), RandomResizedCrop(16, scale=(0.3, 1.0)),
              RandomFlip(prob=1.0), RandomFlip(prob=1.0, direction='vertical')]:
        for _ in range(5):
            res = t(_results())
            _aligned(res)
    res = RandomFlip(prob=1.0)(_results())
    assert res['mask'][:, -1].all() and not res['mask'][:, 0].any() and res['flip']
    assert RandomFlip(prob=0.0)(_results())['flip'] is False
    with pytest.raises(DataError, match='smaller than the crop'):
        CenterCrop(40)(_results())


def test_transforms_registered():
    for name in ['LoadImage', 'LoadLabelMap', 'Resize', 'CenterCrop', 'RandomCrop',
                 'RandomResizedCrop', 'RandomFlip', 'GenerateMask', 'LoadMask',
                 'PackInpaintInputs']:
        assert TRANSFORMS.get(name).__module__.startswith('sair_toolbox.datasets.transforms')


def test_pack_types_and_meta():
    out = PackInpaintInputs()(_results())
    inputs, sample = out['inputs'], out['data_samples']
    assert isinstance(sample, InpaintDataSample)
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 20, 30)
    assert inputs[0, 0, -1] == 255  # channel-first RGB
    assert sample.mask.dtype == torch.float32 and sample.mask.shape == (1, 20, 30)
    assert sample.gt_sem_seg.dtype == torch.int64 and sample.gt_sem_seg.shape == (20, 30)
    assert sample.mask_ratio == 0.5 and sample.mask_bin == '40-60'
    assert sample.img_path == 'x.png' and sample.ori_shape == (20, 30)
    assert sample.sample_idx == 0 and sample.mask_source == 'test'
    res = _results()
    res['mask'] = np.ones((20, 30), np.float32)
    assert PackInpaintInputs()(res)['data_samples'].mask_bin is None  # 100%: outside the bins


def test_pack_shape_errors_name_the_image():
    res = _results()
    res['mask'] = np.zeros((10, 30), np.float32)
    with pytest.raises(ShapeError) as err:
        PackInpaintInputs()(res)
    msg = str(err.value)
    assert 'x.png' in msg and '(10, 30)' in msg and '(20, 30)' in msg and '\n' not in msg
    res = _results()
    res['gt_seg_map'] = np.zeros((5, 5), np.int64)
    with pytest.raises(ShapeError, match='label map .*x.png'):
        PackInpaintInputs()(res)
    res = _results()
    del res['mask']
    with pytest.raises(DataError, match='GenerateMask or LoadMask'):
        PackInpaintInputs()(res)


def test_load_image_and_label_map(tmp_path):
    from PIL import Image
    Image.fromarray(np.full((8, 12, 3), 9, np.uint8)).save(tmp_path / 'i.png')
    Image.fromarray(np.full((4, 6), 3, np.uint8)).save(tmp_path / 'l.png')
    Image.fromarray(np.full((4, 4), 3, np.uint8)).save(tmp_path / 'sq.png')
    res = LoadImage()(dict(img_path=str(tmp_path / 'i.png'), seg_map_path=str(tmp_path / 'l.png'),
                           reduce_zero_label=True))
    assert res['ori_shape'] == (8, 12) and res['img'].dtype == np.uint8
    res = LoadLabelMap()(res)
    assert res['gt_seg_map'].shape == (8, 12) and (res['gt_seg_map'] == 2).all()
    res = LoadImage()(dict(img_path=str(tmp_path / 'i.png'), seg_map_path=str(tmp_path / 'sq.png')))
    with pytest.raises(ShapeError, match='aspect ratio'):
        LoadLabelMap()(res)
    res = LoadLabelMap()(dict(img_path='no-labels.png'))
    assert 'gt_seg_map' not in res
    with pytest.raises(DataError, match='no label map'):
        LoadLabelMap(required=True)(dict(img_path='no-labels.png'))


def test_load_image_min_size_names_the_file(tmp_path):
    from PIL import Image
    Image.new('RGB', (1, 3)).save(tmp_path / 'dot.png')
    assert LoadImage()(dict(img_path=str(tmp_path / 'dot.png')))['img'].shape == (3, 1, 3)
    with pytest.raises(DataError, match=r'dot.png is 1x3 pixels; at least 8x8 are needed'):
        LoadImage(min_size=8)(dict(img_path=str(tmp_path / 'dot.png')))
