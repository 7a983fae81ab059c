"""load_image / load_mask / load_label_map on every PIL mode, and their errors."""
import numpy as np
import pytest
from PIL import Image

from sair_toolbox.datasets.image_io import (load_image, load_label_map, load_mask,
                                            merge_part_masks, resize_nearest)
from sair_toolbox.utils.errors import DataError

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)


def _save(tmp_path, name, img, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def _check(arr, shape=(5, 7, 3)):
    assert arr.dtype == np.uint8 and arr.shape == shape


def test_rgb_png_roundtrip(tmp_path):
    out = load_image(_save(tmp_path, 'a.png', Image.fromarray(RGB)))
    _check(out)
    np.testing.assert_array_equal(out, RGB)


def test_grey_and_bilevel_are_replicated(tmp_path):
    grey = RGB[..., 0]
    out = load_image(_save(tmp_path, 'l.png', Image.fromarray(grey)))
    _check(out)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)
    bits = grey > 128
    out = load_image(_save(tmp_path, 'b.png', Image.fromarray(bits)))
    np.testing.assert_array_equal(out[..., 1], bits.astype(np.uint8) * 255)


def test_rgba_alpha_modes(tmp_path):
    alpha = np.zeros((5, 7), np.uint8)
    alpha[:, :3] = 255
    alpha[:, 3] = 128
    rgba = np.dstack([RGB, alpha])
    path = _save(tmp_path, 'rgba.png', Image.fromarray(rgba))
    white = load_image(path)
    black = load_image(path, alpha='black')
    drop = load_image(path, alpha='drop')
    _check(white)
    np.testing.assert_array_equal(white[:, :3], RGB[:, :3])  # opaque: unchanged
    assert (white[:, 4:] == 255).all() and (black[:, 4:] == 0).all()  # transparent
    expected = (RGB[:, 3].astype(int) * 128 + 255 * 127 + 127) // 255
    np.testing.assert_array_equal(white[:, 3], expected)
    np.testing.assert_array_equal(drop, RGB)


def test_la_and_palette(tmp_path):
    la = Image.merge('LA', [Image.fromarray(RGB[..., 0]),
                            Image.fromarray(np.zeros((5, 7), np.uint8))])
    out = load_image(_save(tmp_path, 'la.png', la))
    assert (out == 255).all()  # fully transparent -> white background
    pal = Image.fromarray(RGB).convert('P', palette=Image.Palette.ADAPTIVE, colors=8)
    path = _save(tmp_path, 'p.png', pal)
    np.testing.assert_array_equal(load_image(path), np.asarray(pal.convert('RGB')))
    # palette with a transparent entry
    pal.info['transparency'] = 0
    path = _save(tmp_path, 'pt.png', pal, transparency=0)
    out = load_image(path)
    idx = np.asarray(Image.open(path))
    assert (out[idx == 0] == 255).all()


def test_16bit_grey_and_rgb(tmp_path):
    import cv2
    g16 = RNG.integers(0, 65536, (5, 7)).astype(np.uint16)
    path = tmp_path / 'g16.png'
    cv2.imwrite(str(path), g16)
    assert Image.open(path).mode.startswith('I;16')
    out = load_image(path)
    _check(out)
    np.testing.assert_array_equal(out[..., 0], (g16 >> 8).astype(np.uint8))
    rgb16 = RNG.integers(0, 65536, (5, 7, 3)).astype(np.uint16)
    path = tmp_path / 'rgb16.png'
    cv2.imwrite(str(path), rgb16[..., ::-1])  # cv2 writes BGR
    np.testing.assert_array_equal(load_image(path), (rgb16 >> 8).astype(np.uint8))


def test_int32_and_float_tiff(tmp_path):
    small = RGB[..., 0].astype(np.int32)  # values within 8 bits: taken as is
    out = load_image(_save(tmp_path, 'i8.tif', Image.fromarray(small)))
    np.testing.assert_array_equal(out[..., 0], small)
    big = (small * 200).astype(np.int32)  # 16-bit range: >> 8
    out = load_image(_save(tmp_path, 'i16.tif', Image.fromarray(big)))
    np.testing.assert_array_equal(out[..., 0], (big >> 8).astype(np.uint8))
    huge = np.array([[0, 100000], [50000, 200000]], np.int32)  # beyond 16 bits: by max
    out = load_image(_save(tmp_path, 'i32.tif', Image.fromarray(huge)))
    np.testing.assert_array_equal(out[..., 0], [[0, 128], [64, 255]])
    f = np.array([[0.0, 0.5], [1.0, 0.25]], np.float32)
    out = load_image(_save(tmp_path, 'f.tif', Image.fromarray(f)))
    np.testing.assert_array_equal(out[..., 0], [[0, 128], [255, 64]])


def test_cmyk_jpeg(tmp_path):
    img = Image.new('CMYK', (7, 5), (0, 255, 255, 0))  # pure red in CMYK
    path = _save(tmp_path, 'c.jpg', img, quality=100)
    assert Image.open(path).mode == 'CMYK'
    out = load_image(path)
    _check(out)
    assert out[..., 0].min() > 230 and out[..., 1:].max() < 25


@pytest.mark.parametrize('content', [b'', b'not an image at all', b'\x89PNG\r\n\x1a\n garbage'])
def test_corrupt_file_is_one_line_data_error(tmp_path, content):
    path = tmp_path / 'bad.png'
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        load_image(path)
    msg = str(err.value)
    assert str(path) in msg and '\n' not in msg


def test_truncated_file(tmp_path):
    path = _save(tmp_path, 'full.jpg', Image.fromarray(
        RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)), quality=95)
    data = path.read_bytes()
    cut = tmp_path / 'cut.jpg'
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(DataError, match='cut.jpg'):
        load_image(cut)
    with pytest.raises(DataError, match='cut.jpg'):
        load_mask(cut)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match='not found: .*nope.png'):
        load_image(tmp_path / 'nope.png')
    with pytest.raises(DataError, match='directory'):
        load_image(tmp_path)
    with pytest.raises(DataError, match='nope.png'):
        load_label_map(tmp_path / 'nope.png')


def test_mask_binarisation_and_polarity(tmp_path):
    grey = np.array([[0, 100, 127, 128, 200, 255]], np.uint8)
    path = _save(tmp_path, 'm.png', Image.fromarray(grey))
    np.testing.assert_array_equal(load_mask(path), [[0, 0, 0, 1, 1, 1]])
    np.testing.assert_array_equal(load_mask(path, polarity='black_is_hole'), [[1, 1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(load_mask(path, threshold=0.7), [[0, 0, 0, 0, 1, 1]])
    out = load_mask(path)
    assert out.dtype == np.float32 and out.shape == (1, 6)


def test_mask_auto_polarity_is_minority(tmp_path):
    mostly_white = np.full((4, 4), 255, np.uint8)
    mostly_white[0, :2] = 0
    path = _save(tmp_path, 'w.png', Image.fromarray(mostly_white))
    assert load_mask(path, polarity='auto').sum() == 2  # the 2 black pixels are the hole
    # a real 75% hole stored white-on-black is read correctly only with the explicit polarity
    assert load_mask(path).sum() == 14


def test_mask_modes(tmp_path):
    hole = np.zeros((4, 6), bool)
    hole[1:3, 2:5] = True
    variants = {
        '01.png': Image.fromarray(hole.astype(np.uint8)),  # stored as 0/1
        'bits.png': Image.fromarray(hole),
        'red.png': Image.fromarray(np.dstack([hole * 255, 0 * hole, 0 * hole]).astype(np.uint8)),
        'rgba.png': Image.fromarray(np.dstack([np.repeat(hole[..., None] * 255, 3, 2),
                                               np.full((4, 6, 1), 255)]).astype(np.uint8)),
    }
    import cv2
    cv2.imwrite(str(tmp_path / '16.png'), hole.astype(np.uint16) * 65535)
    for name, img in variants.items():
        img.save(tmp_path / name)
    for name in list(variants) + ['16.png']:
        np.testing.assert_array_equal(load_mask(tmp_path / name), hole.astype(np.float32),
                                      err_msg=name)


@pytest.mark.parametrize('values', ['grey', 'zero_one'])
def test_8bit_mask_table_is_the_generic_rule(values):
    """pil_to_mask's 256-entry table for mode L equals grey_fraction + binarize_mask."""
    from sair_toolbox.datasets.image_io import _grey_fraction, binarize_mask, pil_to_mask
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256 if values == 'grey' else 2, (40, 50), dtype=np.uint8)
    img = Image.fromarray(arr, 'L')
    for threshold in (0.0, 0.25, 0.5, 127 / 255, 0.999):
        for polarity in ('white_is_hole', 'black_is_hole'):
            fast = pil_to_mask(img, threshold, polarity)
            plain = binarize_mask(_grey_fraction(img), threshold, polarity)
            assert fast.dtype == np.float32 and np.array_equal(fast, plain), (threshold, polarity)


def test_mask_resize_is_nearest_and_binary(tmp_path):
    hole = np.zeros((8, 8), np.uint8)
    hole[:4] = 255
    path = _save(tmp_path, 'm.png', Image.fromarray(hole))
    out = load_mask(path, size=(16, 12))
    assert out.shape == (16, 12) and set(np.unique(out)) == {0.0, 1.0}
    assert out[:8].all() and not out[8:].any()


def test_resize_nearest_matches_pil():
    arr = RNG.integers(0, 200, (13, 9)).astype(np.uint8)
    for size in [(26, 18), (5, 4), (13, 9), (7, 20)]:
        ref = np.asarray(Image.fromarray(arr).resize(size[::-1], Image.NEAREST))
        np.testing.assert_array_equal(resize_nearest(arr, size), ref)


def test_label_maps(tmp_path):
    labels = np.array([[0, 1, 2], [150, 255, 7]], np.uint8)
    path = _save(tmp_path, 'l.png', Image.fromarray(labels))
    out = load_label_map(path)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, labels)
    np.testing.assert_array_equal(load_label_map(path, reduce_zero_label=True),
                                  [[255, 0, 1], [149, 255, 6]])
    pal = Image.fromarray(labels)
    pal.putpalette([(i * 37) % 256 for i in range(768)])
    assert pal.mode == 'P'
    np.testing.assert_array_equal(load_label_map(_save(tmp_path, 'p.png', pal)), labels)
    colour = Image.fromarray(RGB)
    with pytest.raises(DataError, match='colour-coded'):
        load_label_map(_save(tmp_path, 'c.png', colour))


def test_merge_part_masks_later_overwrites(tmp_path):
    a = np.zeros((4, 4), np.uint8)
    a[:2] = 255
    b = np.zeros((4, 4), np.uint8)
    b[1:3] = 255
    pa, pb = _save(tmp_path, 'a.png', Image.fromarray(a)), _save(tmp_path, 'b.png',
                                                                Image.fromarray(b))
    out = merge_part_masks([(1, pa), (5, pb)])
    np.testing.assert_array_equal(out[:, 0], [1, 5, 5, 0])
    small = _save(tmp_path, 's.png', Image.fromarray(np.zeros((2, 2), np.uint8)))
    with pytest.raises(DataError, match='s.png'):
        merge_part_masks([(1, pa), (2, small)])
