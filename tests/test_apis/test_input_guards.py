"""Input guards of the Python API: non-finite and out-of-range arrays, contradictory options,
outputs that cannot fit in memory -- each one SAIRError-family line, never a raw error."""
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from sair_toolbox.apis import SAIRInferencer
from sair_toolbox.apis.inputs import output_size, to_mask, to_rgb
from sair_toolbox.apis.memory import ENV_VAR, allocation_error, estimate, memory_limit, parse_bytes
from sair_toolbox.utils.errors import ConfigError, DataError, ResourceError, SAIRError
from tests.tiny_sair import ROOT, save_tiny_sair


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return save_tiny_sair(tmp_path_factory.mktemp('guards'))


@pytest.fixture(scope='module')
def inferencer(tiny):
    inf = SAIRInferencer(*tiny, device='cpu')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        inf.model, inf.class_embeddings
    return inf


def _pair(h=20, w=28):
    img = np.random.default_rng(0).random((h, w, 3)).astype(np.float32)
    mask = np.zeros((h, w), bool)
    mask[5:12, 8:20] = True
    return img, mask


def _one_line(info) -> str:
    msg = str(info.value)
    assert '\n' not in msg and isinstance(info.value, SAIRError)
    return msg


# ---------------------------------------------------------------- the three cases
def test_nan_image_is_one_line(inferencer):
    img, mask = _pair()
    img[3, 4, 1] = np.nan
    with pytest.raises(DataError) as info:
        inferencer(img, mask)
    assert 'non-finite' in _one_line(info) and '1 non-finite values' in str(info.value)
    with pytest.raises(DataError, match='non-finite'):
        inferencer(np.full((20, 28, 3), np.inf, np.float64), mask)


def test_huge_output_is_refused_before_it_runs(inferencer, monkeypatch):
    img, mask = _pair()

    def never(*args, **kwargs):
        raise AssertionError('the model ran although the request cannot fit')
    monkeypatch.setattr(inferencer.model, 'inpaint', never)
    with pytest.raises(ResourceError) as info:
        inferencer(img, mask, size=(100000, 100000))
    msg = _one_line(info)
    assert '100000x100000' in msg and 'needs about' in msg and 'above the limit' in msg
    assert isinstance(info.value, MemoryError)  # `except MemoryError` also catches it


def test_scale_and_size_together_is_one_line(inferencer):
    with pytest.raises(ConfigError) as info:
        inferencer(*_pair(), scale=2, size=(40, 56))
    assert 'not both' in _one_line(info)


# ---------------------------------------------------------------- more guards
@pytest.mark.parametrize('value,expect', [
    (np.full((20, 28, 3), 1.5, np.float32), 'expected [0, 1]'),
    (np.full((20, 28, 3), -0.1, np.float32), 'expected [0, 1]'),
    (np.full((20, 28, 3), 7, np.int32), 'dtype int32'),
])
def test_out_of_range_images(value, expect):
    with pytest.raises(DataError, match=expect.replace('[', r'\[').replace(']', r'\]')):
        to_rgb(value)


def test_masks_non_finite_out_of_range_and_uint16():
    grey = np.zeros((20, 28), np.float32)
    grey[0, 0] = np.nan
    with pytest.raises(DataError, match='non-finite'):
        to_mask(grey)
    with pytest.raises(DataError, match=r'expected \[0, 1\]'):
        to_mask(np.full((20, 28), 2.0))
    sixteen = np.zeros((20, 28), np.uint16)
    sixteen[2:5, 2:5] = 65535
    assert to_mask(sixteen).sum() == 9
    # a 0/1 mask stored as uint8 or uint16 is read as 0/1, the files' rule
    assert to_mask((sixteen > 0).astype(np.uint8)).sum() == 9
    assert to_mask((sixteen > 0).astype(np.uint16)).sum() == 9


def test_rgba_arrays_follow_the_files_alpha_rule(tmp_path):
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (12, 16, 4), dtype=np.uint8)
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'a.png')
    from sair_toolbox.datasets.image_io import load_image
    assert np.array_equal(to_rgb(rgba), load_image(tmp_path / 'a.png'))
    assert np.array_equal(to_rgb(rgba / 255.0), to_rgb(rgba))


@pytest.mark.parametrize('scale,size,expect', [
    (float('inf'), None, 'finite'), (float('nan'), None, 'finite'), (0, None, '> 0'),
    ('big', None, 'number'), (None, (10,), 'two positive integers'),
    (None, (10, 2.5), 'two positive integers'), (None, (0, 4), 'two positive integers'),
    (None, 7, 'two positive integers'),
])
def test_bad_sizes_and_scales(scale, size, expect):
    with pytest.raises(ConfigError, match=expect):
        output_size((20, 28), scale, size)


def test_float_image_file_with_nan_is_one_line(tmp_path):
    """The datasets' reader (32-bit float TIFF): NaN is an error, valid data unchanged."""
    from sair_toolbox.datasets.image_io import load_image, load_mask
    data = np.linspace(0, 1, 20 * 28, dtype=np.float32).reshape(20, 28)
    Image.fromarray(data, 'F').save(tmp_path / 'ok.tif')
    expected = np.clip(np.rint(data.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    assert np.array_equal(load_image(tmp_path / 'ok.tif')[..., 0], expected)
    data[4, 4] = np.nan
    Image.fromarray(data, 'F').save(tmp_path / 'nan.tif')
    for reader, what in ((load_image, 'image'), (load_mask, 'mask')):
        with pytest.raises(DataError) as info:
            reader(tmp_path / 'nan.tif')
        msg = _one_line(info)
        assert msg.startswith(what) and 'nan.tif' in msg and 'non-finite' in msg


# ---------------------------------------------------------------- the memory limit
def test_limit_from_argument_env_and_available(tiny, monkeypatch):
    assert parse_bytes('8GB') == 8 * 10**9 and parse_bytes('512MiB') == 512 * 2**20
    assert parse_bytes(2e9) == 2 * 10**9
    for bad in ('lots', '-1GB', 0, True):
        with pytest.raises(ConfigError):
            parse_bytes(bad)
    with pytest.raises(ConfigError, match='max_memory'):
        SAIRInferencer(*tiny, device='cpu', max_memory='plenty')
    monkeypatch.setenv(ENV_VAR, '3MB')
    assert memory_limit() == (3 * 10**6, ENV_VAR)
    assert memory_limit('1GB')[0] == 10**9
    monkeypatch.delenv(ENV_VAR)
    limit, source = memory_limit()
    assert limit > 0 and 'available RAM' in source


def test_configured_limit_refuses_what_the_default_allows(tiny, inferencer):
    img, mask = _pair()
    small = SAIRInferencer(*tiny, device='cpu', max_memory='1MB')
    small._model = inferencer.model  # share the built model
    small.class_names = inferencer.class_names
    small._text = inferencer._text
    with pytest.raises(ResourceError, match=r'limit of 1 MB \(max_memory\)'):
        small(img, mask, scale=8)
    assert small(img, mask).output.shape == (20, 28, 3)  # 20 x 28 fits in 1 MB


def test_allocator_errors_become_one_line(inferencer, monkeypatch):
    img, mask = _pair()

    def oom(*args, **kwargs):
        raise RuntimeError('[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: '
                           "can't allocate memory: you tried to allocate 80000000000 bytes.")
    monkeypatch.setattr(inferencer.model, 'inpaint', oom)
    with pytest.raises(ResourceError) as info:
        inferencer(img, mask)
    assert 'out of memory' in _one_line(info) and 'alloc_cpu' not in str(info.value)
    assert allocation_error(RuntimeError('shape mismatch'), (2, 2), (None, '')) is None
    assert allocation_error(MemoryError(), (2, 2), (None, '')) is not None


def test_estimate_bounds_the_measured_peak(tiny):
    """The estimate is an upper bound of the request's peak RSS (a fresh process, so the heap
    holds nothing reusable) and within 4x of it: a refusal is never far off."""
    code = f'''
import warnings, numpy as np
from sair_toolbox.apis import SAIRInferencer
inf = SAIRInferencer({tiny[0]!r}, {tiny[1]!r}, device='cpu')
with warnings.catch_warnings():
    warnings.simplefilter('ignore'); inf.model, inf.class_embeddings
img = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
mask = np.zeros((24, 32), bool); mask[6:12, 8:20] = True
inf(img[:16, :16], mask[:16, :16])
def rss(key):
    return [int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith(key)][0]
size = (1000, 1500)
est = inf.check_memory((24, 32), size, True)
open('/proc/self/clear_refs', 'w').write('5')
base = rss('VmRSS:')
inf(img, mask, size=size)
print(est, rss('VmHWM:') - base)
'''
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    # The last line: the inferencer logs its precision choice first.
    est, peak = (int(v) for v in out.stdout.splitlines()[-1].split())
    assert peak > 0
    assert peak <= est <= 4 * peak, (est, peak)


def test_estimate_grows_with_the_grids_and_the_output(inferencer):
    model = inferencer.model
    base = estimate(model, (64, 64), (64, 64))
    assert estimate(model, (128, 128), (64, 64)) > base
    assert estimate(model, (64, 64), (256, 256)) > base
    assert estimate(model, (64, 64), (64, 64), labels=True, num_classes=3) > base
    # at 100000 x 100000 the output alone is 3e10 floats
    assert estimate(model, (20, 28), (100000, 100000)) > 1.2e11
