"""PSNR / SSIM / L1 of sair_toolbox.evaluation.image_quality against scikit-image on real photos."""
import numpy as np
import pytest
import torch

from sair_toolbox.evaluation.image_quality import l1, psnr, ssim, to_uint8
from sair_toolbox.utils.errors import ShapeError

skimage_data = pytest.importorskip('skimage.data')
from skimage.metrics import peak_signal_noise_ratio, structural_similarity  # noqa: E402


def _chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)


def _corruptions(gt: np.ndarray, rng: np.random.Generator):
    """Realistic damaged versions of a uint8 HxWx3 photo."""
    h, w, _ = gt.shape
    f = gt.astype(np.float64)
    yield 'noise', np.clip(f + rng.normal(0, 8, gt.shape), 0, 255).round().astype(np.uint8)
    # 3x3 box blur (edge-replicated)
    pad = np.pad(f, ((1, 1), (1, 1), (0, 0)), mode='edge')
    blur = sum(pad[i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9
    yield 'blur', blur.round().astype(np.uint8)
    # an inpainting-like result: a hole filled with the mean colour plus slight noise
    out = gt.copy()
    y0, x0 = h // 3, w // 4
    hole = (slice(y0, y0 + h // 3), slice(x0, x0 + w // 3))
    out[hole] = np.clip(f[hole].mean((0, 1)) + rng.normal(0, 4, out[hole].shape), 0, 255)
    yield 'filled hole', out
    yield 'quantised', ((gt // 16) * 16 + 8).astype(np.uint8)
    yield 'brighter', np.clip(f * 1.1 + 5, 0, 255).astype(np.uint8)


@pytest.mark.parametrize('name,crop', [('chelsea', None), ('astronaut', (0, 256, 128, 384)),
                                       ('coffee', (100, 356, 200, 456)),
                                       ('rocket', (150, 406, 300, 556))])
def test_psnr_ssim_l1_equal_skimage_on_photos(name, crop):
    gt = getattr(skimage_data, name)()
    if crop is not None:  # 256 x 256, the protocol's size, keeps the test fast
        gt = np.ascontiguousarray(gt[crop[0]:crop[1], crop[2]:crop[3]])
    rng = np.random.default_rng(0)
    for what, out in _corruptions(gt, rng):
        g, o = _chw(gt), _chw(out)
        ref_psnr = peak_signal_noise_ratio(gt, out, data_range=255)
        ref_ssim = structural_similarity(gt, out, channel_axis=-1, data_range=255)
        ref_l1 = np.abs(gt.astype(np.float64) - out).mean() / 255
        assert psnr(g, o).item() == pytest.approx(ref_psnr, abs=1e-6), what
        assert ssim(g, o).item() == pytest.approx(ref_ssim, abs=1e-6), what
        assert l1(g, o).item() == pytest.approx(ref_l1, abs=1e-9), what
        # float inputs holding the same integers take the float64 path: same numbers
        assert ssim(g.double(), o.double()).item() == pytest.approx(ref_ssim, abs=1e-6)


def test_batched_equals_per_image_and_odd_sizes():
    rng = np.random.default_rng(1)
    photo = skimage_data.astronaut()[100:137, 200:251]  # 37 x 51, odd sizes
    gts = np.stack([photo, photo[::-1], photo[:, ::-1]])
    outs = np.clip(gts + rng.normal(0, 12, gts.shape), 0, 255).astype(np.uint8)
    g = torch.from_numpy(gts).permute(0, 3, 1, 2)
    o = torch.from_numpy(outs).permute(0, 3, 1, 2)
    s, p = ssim(g, o), psnr(g, o)
    assert s.shape == p.shape == (3, )
    for i in range(3):
        assert s[i].item() == pytest.approx(
            structural_similarity(gts[i], outs[i], channel_axis=-1, data_range=255), abs=1e-6)
        assert p[i].item() == pytest.approx(
            peak_signal_noise_ratio(gts[i], outs[i], data_range=255), abs=1e-6)
    # smallest image SSIM accepts: exactly one 7x7 window
    tiny_g, tiny_o = gts[0, :7, :7], outs[0, :7, :7]
    assert ssim(_chw(tiny_g), _chw(tiny_o)).item() == pytest.approx(
        structural_similarity(tiny_g, tiny_o, channel_axis=-1, data_range=255), abs=1e-6)


def test_identical_images_and_errors():
    img = _chw(skimage_data.chelsea()[:64, :64])
    assert psnr(img, img).item() == float('inf')  # as scikit-image
    assert ssim(img, img).item() == pytest.approx(1.0, abs=1e-12)
    assert l1(img, img).item() == 0
    with pytest.raises(ShapeError, match='at least 7x7'):
        ssim(img[:, :6, :20], img[:, :6, :20])
    with pytest.raises(ShapeError, match='differ'):
        psnr(img, img[:, :32])


def test_to_uint8_rounds_and_clips():
    x = torch.tensor([-0.2, 0.0, 0.5 / 255, 1.5 / 255, 0.4, 1.0, 1.3])
    assert to_uint8(x).tolist() == [0, 0, 0, 2, 102, 255, 255]  # half to even, like np.round
    assert to_uint8(x).dtype == torch.uint8
    photo = skimage_data.coffee()
    assert torch.equal(to_uint8(torch.from_numpy(photo).float() / 255), torch.from_numpy(photo))
