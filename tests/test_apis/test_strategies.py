"""Photos of any size (``sair_toolbox.apis.strategies``): crop planning, the strategies through
the inferencer (known pixels exact, the photo's size, EXIF), memory that follows the crop, and
the bad inputs of issue 23 (border holes, a hole over the whole photo, a 1 x 40000 strip, 16-bit
PNG, CMYK and EXIF-rotated JPEGs, a 100-megapixel photo)."""
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from sair_toolbox.apis import SAIRInferencer
from sair_toolbox.apis.strategies import choose, downscale, model_size, photo_queries, plan_crops
from sair_toolbox.utils.errors import ConfigError, DataError, ResourceError
from tests.tiny_sair import save_tiny_sair

WORK = 64  # the tiny model is the demo architecture: trained at 64 x 64


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return save_tiny_sair(tmp_path_factory.mktemp('tiny_sair_photos'))


@pytest.fixture(scope='module')
def inferencer(tiny):
    inf = SAIRInferencer(*tiny, device='cpu', precision='fp32', working_size=WORK)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        inf.model, inf.class_embeddings
    return inf


def photo(h, w, seed=0):
    """A smooth photo-like picture with some texture (uint8)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    img = np.stack([128 + 100 * np.sin(x / 37 + c) * np.cos(y / 53 - c) for c in range(3)], -1)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def box_hole(h, w, *boxes):
    hole = np.zeros((h, w), np.float32)
    for y0, y1, x0, x1 in boxes:
        hole[y0:y1, x0:x1] = 1
    return hole


# ---------------------------------------------------------------------- planning
def test_far_holes_get_their_own_crops_and_near_ones_merge():
    hole = box_hole(600, 800, (100, 120, 100, 130), (400, 430, 600, 640))
    crops = plan_crops(hole, WORK)
    assert len(crops) == 2
    for (y0, y1, x0, x1), box in zip(crops, [(100, 120, 100, 130), (400, 430, 600, 640)]):
        assert y0 <= box[0] and y1 >= box[1] and x0 <= box[2] and x1 >= box[3]
        assert y1 - y0 == x1 - x0 == max(WORK, 2 * max(box[1] - box[0], box[3] - box[2]))
    near = box_hole(600, 800, (100, 120, 100, 130), (125, 140, 150, 170))
    merged = plan_crops(near, WORK)
    assert len(merged) == 1
    y0, y1, x0, x1 = merged[0]
    assert y0 <= 100 and y1 >= 140 and x0 <= 100 and x1 >= 170


def test_a_hole_touching_the_border_gets_a_clipped_crop():
    hole = box_hole(300, 500, (0, 30, 480, 500))
    (y0, y1, x0, x1), = plan_crops(hole, WORK)
    assert (y0, x1) == (0, 500) and y1 - y0 == x1 - x0 == WORK  # moved inside, full size
    strip = box_hole(40, 900, (0, 40, 0, 300))  # the photo is thinner than the crop's side
    (y0, y1, x0, x1), = plan_crops(strip, WORK)
    assert (y0, y1) == (0, 40) and x0 == 0 and x1 - x0 == 600


def test_every_hole_pixel_is_in_exactly_one_crop():
    rng = np.random.default_rng(3)
    hole = (rng.random((50, 80)) > 0.995).repeat(8, 0).repeat(8, 1).astype(np.float32)
    crops = plan_crops(hole, WORK)
    count = np.zeros(hole.shape, int)
    for y0, y1, x0, x1 in crops:
        count[y0:y1, x0:x1] += 1
    assert count.max() == 1 and (count[hole > 0] == 1).all()


def test_thousands_of_specks_are_grouped_not_cropped_one_by_one():
    rng = np.random.default_rng(4)
    hole = (rng.random((900, 1200)) > 0.998).astype(np.float32)  # ~2000 one-pixel specks
    crops = plan_crops(hole, WORK)
    assert 1 <= len(crops) <= 64
    plan = choose('crop', hole.shape, hole.shape, hole, WORK)
    assert plan.strategy == 'resize' and 'instead of crop' in plan.note  # they cover the photo


def test_choose_rules():
    hole = box_hole(1000, 1000, (10, 30, 10, 30))
    assert choose('auto', (1000, 1000), (1000, 1000), hole, WORK).strategy == 'crop'
    assert choose('auto', (64, 48), (64, 48), None, WORK).strategy == 'full'
    assert choose('auto', (1000, 1000), (2000, 2000), hole, WORK).strategy == 'full'
    unknown = choose('auto', (1000, 1000), (1000, 1000), hole, None)
    assert unknown.strategy == 'full' and 'working size is unknown' in unknown.note
    big = box_hole(1000, 1000, (50, 950, 50, 950))
    plan = choose('crop', (1000, 1000), (1000, 1000), big, WORK)
    assert plan.strategy == 'resize' and 'strategy resize instead of crop' in plan.note
    assert plan.sizes == [(WORK, WORK)]
    assert choose('resize', (300, 1000), (300, 1000), hole, WORK).sizes == [(16, 64)]
    with pytest.raises(ConfigError, match="renders at the photo's own size"):
        choose('crop', (100, 100), (200, 200), hole, WORK)
    with pytest.raises(ConfigError, match='working size'):
        choose('resize', (100, 100), (100, 100), hole, None)
    with pytest.raises(ConfigError, match='strategy must be one of'):
        choose('tiles', (100, 100), (100, 100), hole, WORK)


def test_model_size_keeps_the_aspect_ratio():
    assert model_size(600, 600, 256) == (256, 256)
    assert model_size(3024, 4032, 256) == (192, 256)
    assert model_size(1, 40000, 64) == (8, 64)


def test_downscale_marks_any_covered_hole_pixel_and_keeps_hole_content_out():
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[20:21, 30:31] = 255  # the object to remove: one bright pixel, inside the hole
    hole = box_hole(64, 64, (20, 21, 30, 31))
    img, small = downscale(rgb, hole, (16, 16))
    assert small.sum() == 1 and small[5, 7] == 1
    assert img[small == 0].max() == 0  # no hole content leaked into a known pixel


def test_photo_queries_are_pixel_centres_of_the_crop():
    ys, xs = np.array([10, 10, 19]), np.array([20, 29, 20])
    coord, cell = photo_queries(ys, xs, (10, 20, 20, 30))
    np.testing.assert_allclose(coord[0], [-0.9, -0.9], atol=1e-7)
    np.testing.assert_allclose(coord[1], [-0.9, 0.9], atol=1e-7)
    np.testing.assert_allclose(coord[2], [0.9, -0.9], atol=1e-7)
    np.testing.assert_allclose(cell, [0.2, 0.2])


# ---------------------------------------------------------------------- through the inferencer
@pytest.mark.parametrize('strategy', ['crop', 'resize', 'full'])
def test_known_pixels_are_the_input_and_the_size_is_the_photo(inferencer, strategy):
    rgb = photo(300, 400)
    hole = box_hole(300, 400, (40, 60, 50, 90), (250, 262, 300, 380))
    result = inferencer(rgb, hole, strategy=strategy, labels=False)
    assert result.output.shape == rgb.shape and result.strategy == strategy
    known = hole == 0
    assert np.array_equal(result.output[known], rgb[known])
    assert not np.array_equal(result.output[~known], rgb[~known])
    assert len(result.crops) == {'crop': 2, 'resize': 1, 'full': 0}[strategy]


def test_crop_at_the_working_size_renders_what_the_model_renders(inferencer):
    """A crop that needs no resize (side = working size): the native queries are the crop's
    pixel centres, so the fill is the model's own scale-1 inpainting of the crop."""
    rgb = photo(200, 300, seed=1)
    hole = box_hole(200, 300, (100, 110, 150, 165))
    result = inferencer(rgb, hole, strategy='crop', labels=False)
    (y0, y1, x0, x1), = result.crops
    assert y1 - y0 == x1 - x0 == WORK
    crop = torch.from_numpy(rgb[y0:y1, x0:x1]).permute(2, 0, 1)[None].float() / 255
    mask = torch.from_numpy(hole[y0:y1, x0:x1])[None, None]
    with torch.no_grad():
        ref = inferencer.model.inpaint(crop, mask)[0].permute(1, 2, 0).numpy()
    ref = np.rint(ref * 255).astype(int)
    diff = np.abs(result.output[y0:y1, x0:x1].astype(int) - ref)
    assert diff.max() <= 1  # float32 coordinates computed two ways


def test_bicubic_render_differs_from_native_only_in_the_hole(inferencer):
    rgb = photo(400, 400, seed=2)
    hole = box_hole(400, 400, (150, 230, 150, 230))
    native = inferencer(rgb, hole, strategy='crop', labels=False)
    bicubic = inferencer(rgb, hole, strategy='crop', render='bicubic', labels=False)
    assert native.crops == bicubic.crops and native.crops[0][1] - native.crops[0][0] == 160
    assert np.array_equal(native.output[hole == 0], bicubic.output[hole == 0])
    assert not np.array_equal(native.output, bicubic.output)
    with pytest.raises(ConfigError, match='render must be one of'):
        inferencer(rgb, hole, strategy='crop', render='nearest')


def test_label_maps_and_text_with_crops(inferencer):
    rgb = photo(200, 260)
    hole = box_hole(200, 260, (80, 100, 100, 140))
    result = inferencer(rgb, hole, strategy='crop', text='water')
    assert result.colors_sir.shape == rgb.shape and result.labels_sir.shape == hole.shape
    assert result.text == 'water'
    assert np.array_equal(result.output[hole == 0], rgb[hole == 0])


def test_a_hole_over_almost_the_whole_photo_falls_back_to_resize(inferencer):
    rgb = photo(240, 320)
    hole = box_hole(240, 320, (5, 235, 5, 315))
    result = inferencer(rgb, hole, labels=False)
    assert result.strategy == 'resize' and 'instead of crop' in result.note
    assert np.array_equal(result.output[hole == 0], rgb[hole == 0])


def test_memory_follows_the_crop(inferencer):
    h, w = 3024, 4032
    hole = box_hole(h, w, (1000, 1100, 2000, 2120))
    crop_plan = inferencer.plan((h, w), (h, w), hole)
    crop = inferencer.check_memory((h, w), (h, w), False, plan=crop_plan,
                                   queries=int(hole.sum()), limit=(None, 'none'))
    full = inferencer.check_memory((h, w), (h, w), False, limit=(None, 'none'))
    assert crop_plan.strategy == 'crop' and crop < 0.1 * full
    assert crop < 300e6  # the photo's arrays (12 bytes a pixel) and one 64 x 64 pass
    with pytest.raises(ResourceError, match=r'strategy crop: 1 crop \(240x240\)\) needs about'):
        inferencer.check_memory((h, w), (h, w), False, plan=crop_plan, queries=12000,
                                limit=(int(1e8), 'max_memory'))


# ---------------------------------------------------------------------- bad inputs as files
def _save(path, array, **kwargs):
    Image.fromarray(array).save(path, **kwargs)
    return str(path)


def test_exif_rotated_jpeg_is_read_upright(inferencer, tmp_path):
    upright = photo(120, 90)  # portrait as shown
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # landscape as stored, tag 6 = rotate
    exif = Image.Exif()
    exif[0x0112] = 6
    img = Image.fromarray(stored)
    img.save(tmp_path / 'phone.jpg', exif=exif, quality=95)
    hole = box_hole(120, 90, (30, 50, 20, 40))
    _save(tmp_path / 'hole.png', (hole * 255).astype(np.uint8))
    result = inferencer(str(tmp_path / 'phone.jpg'), str(tmp_path / 'hole.png'), labels=False)
    assert result.output.shape == (120, 90, 3)
    decoded = np.asarray(Image.open(tmp_path / 'phone.jpg').transpose(Image.ROTATE_270))
    assert np.array_equal(result.output[hole == 0], decoded[hole == 0])


def test_sixteen_bit_png_and_cmyk_jpeg(inferencer, tmp_path):
    grey16 = (photo(100, 140)[..., 0].astype(np.uint16) * 257)
    Image.fromarray(grey16).save(tmp_path / 'deep.png')
    assert Image.open(tmp_path / 'deep.png').mode.startswith('I;16')
    Image.fromarray(photo(100, 140)).convert('CMYK').save(tmp_path / 'print.jpg', quality=95)
    assert Image.open(tmp_path / 'print.jpg').mode == 'CMYK'
    hole = box_hole(100, 140, (20, 40, 30, 60))
    _save(tmp_path / 'hole.png', (hole * 255).astype(np.uint8))
    for name in ('deep.png', 'print.jpg'):
        result = inferencer(str(tmp_path / name), str(tmp_path / 'hole.png'), labels=False)
        assert result.output.shape == (100, 140, 3) and result.output.dtype == np.uint8
    deep = inferencer(str(tmp_path / 'deep.png'), str(tmp_path / 'hole.png'), labels=False)
    expected = np.repeat((grey16 >> 8).astype(np.uint8)[..., None], 3, 2)
    assert np.array_equal(deep.output[hole == 0], expected[hole == 0])


def test_a_1x40000_strip_is_one_line(inferencer):
    strip = np.zeros((1, 40000, 3), np.uint8)
    hole = np.zeros((1, 40000), np.float32)
    hole[0, 100:200] = 1
    with pytest.raises(DataError, match=r'is 40000x1 pixels; SAIR needs at least 8x8'):
        inferencer(strip, hole)


def test_a_thin_wide_photo_is_inpainted_by_a_clipped_crop(inferencer):
    rgb = photo(8, 4000)
    hole = box_hole(8, 4000, (2, 6, 1000, 1010))
    result = inferencer(rgb, hole, labels=False)
    assert result.strategy == 'crop' and result.output.shape == rgb.shape
    (y0, y1, x0, x1), = result.crops
    assert (y0, y1) == (0, 8) and x1 - x0 == WORK
    assert np.array_equal(result.output[hole == 0], rgb[hole == 0])


def test_a_100_megapixel_photo_is_handled_within_the_limit(inferencer, tmp_path):
    h, w = 10000, 10000
    path = tmp_path / 'huge.png'
    Image.new('RGB', (w, h), (90, 120, 150)).save(path, compress_level=1)
    mask = Image.new('L', (w, h), 0)
    mask.paste(255, (5000, 5000, 5100, 5080))
    mask.save(tmp_path / 'huge_hole.png', compress_level=1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', Image.DecompressionBombWarning)
        result = inferencer(str(path), str(tmp_path / 'huge_hole.png'), labels=False)
        assert result.strategy == 'crop' and result.output.shape == (h, w, 3)
        assert (result.output[:5000] == (90, 120, 150)).all()
        # The old behaviour (the whole photo through the model) is refused with its estimate.
        with pytest.raises(ResourceError, match=r'output 10000x10000 \(W x H\).*needs about'):
            inferencer(str(path), str(tmp_path / 'huge_hole.png'), strategy='full',
                       labels=False)
