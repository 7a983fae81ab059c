"""CelebAHQDataset, ADE20KDataset, ImageFolderDataset on small fake layouts."""
import numpy as np
import pytest
import torch
from PIL import Image

from sair_toolbox.datasets import ADE20K_CLASSES, CELEBAMASK_HQ_CLASSES
from sair_toolbox.datasets.celebahq_dataset import CELEBAMASK_HQ_PARTS
from sair_toolbox.registry import DATASETS
from sair_toolbox.utils.errors import DataError

RNG = np.random.default_rng(0)
TEST_PIPE = [dict(type='LoadImage'), dict(type='LoadLabelMap'), dict(type='Resize', size=16),
             dict(type='GenerateMask'), dict(type='PackInpaintInputs')]


def _img(path, size=(32, 32)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, size + (3,), dtype=np.uint8)).save(path)


def _grey(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint8)).save(path)


@pytest.fixture
def celeba_root(tmp_path):
    root = tmp_path / 'CelebAMask-HQ'
    for idx in range(4):
        _img(root / 'CelebA-HQ-img' / f'{idx}.jpg')
        k = idx // 2000
        skin = np.zeros((16, 16), np.uint8)
        skin[4:12] = 255
        _grey(root / 'CelebAMask-HQ-mask-anno' / str(k) / f'{idx:05d}_skin.png', skin)
        hair = np.zeros((16, 16), np.uint8)
        hair[:6] = 255  # overlaps skin rows 4-5: hair (later in the list) wins
        _grey(root / 'CelebAMask-HQ-mask-anno' / str(k) / f'{idx:05d}_hair.png', hair)
    (root / 'train.txt').write_text('0.jpg\n1\n2.jpg\n')
    (root / 'test.txt').write_text('3.jpg\n')
    return root


def test_celebahq_parts_merged(celeba_root):
    ds = DATASETS.build(dict(type='CelebAHQDataset', data_root=str(celeba_root),
                             ann_file='train.txt', pipeline=TEST_PIPE[:2]))
    assert len(ds) == 3 and ds.metainfo['classes'] == CELEBAMASK_HQ_CLASSES
    assert len(CELEBAMASK_HQ_CLASSES) == 19 and len(CELEBAMASK_HQ_PARTS) == 18
    res = ds[1]
    assert res['img_path'].endswith('CelebA-HQ-img/1.jpg')
    seg = res['gt_seg_map']
    assert seg.shape == (32, 32)  # 16x16 annotation resized to the 32x32 image
    skin, hair = CELEBAMASK_HQ_CLASSES.index('skin'), CELEBAMASK_HQ_CLASSES.index('hair')
    assert skin == 1 and hair == 13
    np.testing.assert_array_equal(seg[::2, 0], [hair] * 6 + [skin] * 6 + [0] * 4)


def test_celebahq_merged_labels_and_no_labels(celeba_root):
    labels = np.full((32, 32), 7, np.uint8)
    _grey(celeba_root / 'labels' / '3.png', labels)
    ds = DATASETS.build(dict(type='CelebAHQDataset', data_root=str(celeba_root),
                             ann_file='test.txt', test_mode=True, pipeline=TEST_PIPE))
    sample = ds[0]['data_samples']
    assert (sample.gt_sem_seg == 7).all() and sample.gt_sem_seg.shape == (16, 16)
    ds = DATASETS.build(dict(type='CelebAHQDataset', data_root=str(celeba_root),
                             ann_file='test.txt', with_label=False, pipeline=TEST_PIPE))
    assert 'gt_sem_seg' not in ds[0]['data_samples']
    with pytest.raises(DataError, match='label map 0.png for 0.jpg not found'):
        DATASETS.build(dict(type='CelebAHQDataset', data_root=str(celeba_root)))
    ds = DATASETS.build(dict(type='CelebAHQDataset', data_root=str(celeba_root),
                             with_label=False))
    assert [d['img_path'][-5:] for d in (ds.get_data_info(i) for i in range(len(ds)))] == [
        '0.jpg', '1.jpg', '2.jpg', '3.jpg']  # ann_file='': every image, numeric order


def test_celebahq_errors(celeba_root, tmp_path):
    with pytest.raises(DataError, match='data_root folder not found: .*nowhere'):
        DATASETS.build(dict(type='CelebAHQDataset', data_root=str(tmp_path / 'nowhere')))
    with pytest.raises(DataError, match='list file not found: .*val.txt'):
        DATASETS.build(dict(type='CelebAHQDataset', data_root=str(celeba_root),
                            ann_file='val.txt'))
    (celeba_root / 'bad.txt').write_text('0.jpg\n99.jpg\n')
    with pytest.raises(DataError, match='1 images listed .* missing .*first: 99.jpg'):
        DATASETS.build(dict(type='CelebAHQDataset', data_root=str(celeba_root),
                            ann_file='bad.txt'))
    bare = tmp_path / 'bare'
    _img(bare / 'CelebA-HQ-img' / '0.jpg')
    with pytest.raises(DataError, match='with_label=True'):
        DATASETS.build(dict(type='CelebAHQDataset', data_root=str(bare), with_label=True))


def _ade_root(tmp_path, with_ann=True):
    root = tmp_path / 'ADEChallengeData2016'
    for split, prefix in (('training', 'ADE_train'), ('validation', 'ADE_val')):
        for i in range(1, 3):
            _img(root / 'images' / split / f'{prefix}_{i:08d}.jpg', (20, 30))
            if with_ann:
                lab = np.zeros((20, 30), np.uint8)
                lab[:, 10:] = 1
                lab[:, 20:] = 150
                _grey(root / 'annotations' / split / f'{prefix}_{i:08d}.png', lab)
    return root


def test_ade20k(tmp_path):
    root = _ade_root(tmp_path)
    pipe = [dict(type='LoadImage'), dict(type='LoadLabelMap'),
            dict(type='Resize', size=16, keep_ratio=True), dict(type='CenterCrop', size=16),
            dict(type='GenerateMask'), dict(type='PackInpaintInputs')]
    ds = DATASETS.build(dict(type='ADE20KDataset', data_root=str(root), split='validation',
                             test_mode=True, pipeline=pipe))
    assert len(ds) == 2 and len(ds.metainfo['classes']) == 150
    assert ADE20K_CLASSES[0] == 'wall' and ADE20K_CLASSES[149] == 'flag'
    out = ds[1]
    seg = out['data_samples'].gt_sem_seg
    assert out['inputs'].shape == (3, 16, 16) and seg.shape == (16, 16)
    assert set(seg.unique().tolist()) == {255, 0, 149}  # 0 -> ignore, k -> k - 1
    assert out['data_samples'].img_path.endswith('ADE_val_00000002.jpg')


def test_ade20k_errors(tmp_path):
    root = _ade_root(tmp_path, with_ann=False)
    ds = DATASETS.build(dict(type='ADE20KDataset', data_root=str(root)))
    assert len(ds) == 2 and 'seg_map_path' not in ds.get_data_info(0)
    with pytest.raises(DataError, match='annotation folder not found'):
        DATASETS.build(dict(type='ADE20KDataset', data_root=str(root), with_label=True))
    with pytest.raises(DataError, match='data_root folder not found'):
        DATASETS.build(dict(type='ADE20KDataset', data_root=str(tmp_path / 'missing')))


def test_image_folder_recursive_and_paired(tmp_path):
    root = tmp_path / 'imgs'
    _img(root / 'b.png')
    _img(root / 'sub' / 'a.jpg', (20, 24))
    (root / 'notes.txt').write_text('not an image')
    masks = root / 'masks'  # inside the image folder: must not be taken as images
    hole = np.zeros((10, 12), np.uint8)
    hole[:5] = 255
    _grey(masks / 'b.png', hole)
    _grey(masks / 'sub' / 'a.png', hole)
    ds = DATASETS.build(dict(type='ImageFolderDataset', data_root=str(root)))
    assert [ds.get_data_info(i)['img_path'][len(str(root)) + 1:] for i in range(len(ds))] == [
        'b.png', 'masks/b.png', 'masks/sub/a.png', 'sub/a.jpg']
    pipe = [dict(type='LoadImage'), dict(type='LoadMask'), dict(type='Resize', size=8),
            dict(type='PackInpaintInputs')]
    ds = DATASETS.build(dict(type='ImageFolderDataset', data_root=str(root), mask_dir='masks',
                             test_mode=True, pipeline=pipe))
    assert len(ds) == 2
    sample = ds[1]['data_samples']
    assert sample.mask_source.startswith('paired:') and sample.mask_source.endswith('sub/a.png')
    assert sample.mask.shape == (1, 8, 8) and sample.mask_ratio == 0.5
    assert torch.equal(sample.mask[0, :4], torch.ones(4, 8))
    _img(root / 'c.png')
    with pytest.raises(DataError, match='no \\(unique\\) mask .*first: c.png'):
        DATASETS.build(dict(type='ImageFolderDataset', data_root=str(root), mask_dir='masks'))
    with pytest.raises(DataError, match='no images'):
        (tmp_path / 'empty').mkdir()
        DATASETS.build(dict(type='ImageFolderDataset', data_root=str(tmp_path / 'empty')))
    with pytest.raises(DataError, match='data_root folder not found'):
        DATASETS.build(dict(type='ImageFolderDataset', data_root=str(tmp_path / 'nope')))
