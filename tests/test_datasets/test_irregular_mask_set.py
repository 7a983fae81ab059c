"""IrregularMaskSet, mask transforms and the evaluation pairing."""
import numpy as np
import pytest
from PIL import Image

from sair_toolbox.datasets.masks.irregular_mask_set import IrregularMaskSet, sort_masks
from sair_toolbox.datasets.masks.pairing import mask_rng, sample_rng
from sair_toolbox.datasets.transforms import GenerateMask, LoadMask
from sair_toolbox.utils.errors import DataError

#: hole fraction of each mask written by ``mask_dir`` (white = hole), at any size
RATIOS = {'a.png': 0.1, 'b.png': 0.15, 'sub/c.png': 0.3, 'd.png': 0.35, 'e.png': 0.5,
          'f.png': 0.55, 'g.png': 0.75}


def _write_mask(path, ratio, size=(40, 50), invert=False):
    h, w = size
    img = np.zeros(size, np.uint8)
    rows = int(round(ratio * h))
    img[:rows] = 255
    if invert:
        img = 255 - img
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


@pytest.fixture
def mask_dir(tmp_path):
    root = tmp_path / 'masks'
    for name, ratio in RATIOS.items():
        _write_mask(root / name, ratio)
    return root


def test_scan_load_and_bins(mask_dir):
    ms = IrregularMaskSet(str(mask_dir), ratio_size=(20, 25))
    assert ms.paths == sorted(RATIOS)
    assert ms.members == {'0-20': ['a.png', 'b.png'], '20-40': ['d.png', 'sub/c.png'],
                          '40-60': ['e.png', 'f.png']}
    m = ms.load('sub/c.png', size=(16, 16))
    assert m.shape == (16, 16) and m.dtype == np.float32
    assert m.mean() == pytest.approx(0.3, abs=0.05)


def test_polarity_normalised(tmp_path):
    _write_mask(tmp_path / 'inv' / 'x.png', 0.3, invert=True)
    ms = IrregularMaskSet(str(tmp_path / 'inv'), polarity='black_is_hole')
    assert ms.hole_ratio('x.png') == pytest.approx(0.3, abs=0.02)


def test_list_files_and_errors(mask_dir, tmp_path):
    lists = tmp_path / 'lists'
    sort_masks(str(mask_dir), str(lists), size=20)
    ms = IrregularMaskSet(str(mask_dir), list_files=str(lists))
    assert ms.members['20-40'] == ['d.png', 'sub/c.png']
    assert 'g.png' not in ms.paths  # outside every bin: not listed
    with pytest.raises(DataError, match='nowhere'):
        IrregularMaskSet(str(tmp_path / 'nowhere'))
    with pytest.raises(DataError, match='missing_lists'):
        IrregularMaskSet(str(mask_dir), list_files=str(tmp_path / 'missing_lists'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataError, match='no mask files'):
        IrregularMaskSet(str(tmp_path / 'empty'))


def test_sample_rng_depends_on_seed_and_index_only():
    a = sample_rng(5, 17).integers(0, 1 << 30, 4)
    np.random.seed(123)  # global state must not matter
    b = sample_rng(5, 17).integers(0, 1 << 30, 4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample_rng(5, 18).integers(0, 1 << 30, 4))
    assert not np.array_equal(a, sample_rng(6, 17).integers(0, 1 << 30, 4))
    np.random.seed(1)
    x = mask_rng({'mask_seed': None}).random()
    np.random.seed(1)
    assert mask_rng({}).random() == x  # training draws follow the (dataset's) numpy stream


def _results(idx, seed=0, size=(24, 24)):
    return dict(img=np.zeros(size + (3,), np.uint8), sample_idx=idx, mask_seed=seed,
                img_path=f'img{idx}.png')


def test_load_mask_eval_pairing_is_balanced_and_fixed(mask_dir):
    t = LoadMask(str(mask_dir), ratio_size=24)
    got = [t(_results(i))['mask_source'] for i in range(9)]
    again = [LoadMask(str(mask_dir), ratio_size=24)(_results(i))['mask_source']
             for i in reversed(range(9))][::-1]
    assert got == again  # independent of order and of the transform instance
    bins = {'a.png': 0, 'b.png': 0, 'sub/c.png': 1, 'd.png': 1, 'e.png': 2, 'f.png': 2}
    assert [bins[s.split(':', 1)[1]] for s in got] == [i % 3 for i in range(9)]
    out = t(_results(0, size=(30, 20)))
    assert out['mask'].shape == (30, 20) and out['mask'].dtype == np.float32
    other_seed = [t(_results(i, seed=1))['mask_source'] for i in range(9)]
    assert other_seed != got
    fixed = LoadMask(str(mask_dir), fixed_bin='40-60', ratio_size=24)
    assert all(fixed(_results(i))['mask_source'] in ('folder:e.png', 'folder:f.png')
               for i in range(6))


def test_load_mask_training_draws_vary(mask_dir):
    t = LoadMask(str(mask_dir), balanced=False)
    np.random.seed(0)
    draws = {t(_results(0, seed=None))['mask_source'] for _ in range(30)}
    assert len(draws) >= 4


def test_load_mask_paired(tmp_path):
    _write_mask(tmp_path / 'p.png', 0.5, size=(10, 10))
    res = _results(0, size=(20, 30))
    res['mask_path'] = str(tmp_path / 'p.png')
    out = LoadMask()(res)
    assert out['mask'].shape == (20, 30) and out['mask'][:10].all() and not out['mask'][10:].any()
    assert out['mask_source'] == f'paired:{tmp_path / "p.png"}'
    with pytest.raises(DataError, match='no mask_path'):
        LoadMask()(_results(0))


def test_generate_mask_eval_bins_and_determinism():
    t = GenerateMask()
    masks = [t(_results(i, size=(32, 32)))['mask'] for i in range(6)]
    for i, m in enumerate(masks):
        lo, hi = [(0, .2), (.2, .4), (.4, .6)][i % 3]
        assert lo < m.mean() <= hi
    again = GenerateMask()(_results(4, size=(32, 32)))['mask']
    np.testing.assert_array_equal(masks[4], again)
    fixed = GenerateMask(fixed_bin=1)(_results(0, size=(32, 32)))['mask']
    assert 0.2 < fixed.mean() <= 0.4
