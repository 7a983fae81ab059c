"""PSNR, SSIM and L1 on uint8 RGB images, batched in torch, equal to scikit-image's numbers.

The evaluation protocol (MISF's, which the paper follows) scores uint8 images with
``skimage.metrics.peak_signal_noise_ratio(gt, out, data_range=255)`` and
``skimage.metrics.structural_similarity(gt, out, channel_axis=-1, data_range=255)``. These
functions compute the same numbers for a whole batch at once, on any device:

* Pixel values, their squares and products are integers, so every sum below is exact (integer
  window sums for SSIM, float64 sums below 2**53 for PSNR and L1); the only rounding is in the
  final float64 divisions and the SSIM formula: the results agree with scikit-image to ~1e-15
  (the tests require 1e-6).
* scikit-image's SSIM filters each channel with a 7x7 ``uniform_filter`` and then crops a 3-pixel
  border before averaging, so the padding mode never reaches the result: the mean over the
  *valid* 7x7 windows is the same number.
"""
from typing import Iterator, Tuple

import torch

from sair_toolbox.utils.errors import ShapeError

#: scikit-image's defaults for ``structural_similarity`` with uniform weights.
SSIM_WIN_SIZE = 7
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    """``round(x * 255)`` clipped to [0, 255], as ``uint8`` (the protocol's image format).

    Args:
        img: float image(s) in [0, 1], any shape.

    Returns:
        Tensor of the same shape, dtype ``uint8``, on the same device.
    """
    if not img.is_floating_point():
        img = img.float()
    return torch.round(img * 255).clamp_(0, 255).to(torch.uint8)


def _check_pair(gt: torch.Tensor, out: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Both as (B, C, H, W), with a one-line ShapeError if they do not fit."""
    if gt.shape != out.shape:
        raise ShapeError(f'image shapes differ: gt {tuple(gt.shape)} vs output {tuple(out.shape)}')
    if gt.dim() == 3:
        gt, out = gt[None], out[None]
    if gt.dim() != 4:
        raise ShapeError(f'expected images (B, C, H, W) or (C, H, W), got {tuple(gt.shape)}')
    return gt, out


def _chunks(gt: torch.Tensor, out: torch.Tensor,
            dtype: torch.dtype = torch.float64) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """(B, C, H, W) pairs in chunks, cast to ``dtype``.

    On CPU one image at a time: the float64 intermediates of a whole batch do not fit in cache,
    so per-image is faster there (see the README's Performance section). On GPUs the whole batch
    at once.
    """
    step = 1 if gt.device.type == 'cpu' else gt.shape[0]
    for i in range(0, gt.shape[0], step):
        # contiguous: permuted (HWC-backed) inputs would make the window sums stride badly
        yield (gt[i:i + step].to(dtype).contiguous(), out[i:i + step].to(dtype).contiguous())


def psnr(gt: torch.Tensor, out: torch.Tensor, data_range: float = 255.) -> torch.Tensor:
    """PSNR per image over all pixels and channels, like scikit-image.

    Args:
        gt: (B, C, H, W) or (C, H, W) uint8 (or integer-valued) ground truth.
        out: the same shape, the image to score.
        data_range: 255 for uint8.

    Returns:
        (B,) float64 PSNR in dB; ``inf`` where the images are identical (as scikit-image).
    """
    gt, out = _check_pair(gt, out)
    mse = torch.cat([(g - o).square().flatten(1).mean(1) for g, o in _chunks(gt, out)])
    return 10 * torch.log10(data_range**2 / mse)


def l1(gt: torch.Tensor, out: torch.Tensor, data_range: float = 255.) -> torch.Tensor:
    """Mean absolute error in [0, 1] per image (uint8 values divided by ``data_range``).

    Args:
        gt: (B, C, H, W) or (C, H, W) uint8 ground truth.
        out: the same shape, the image to score.
        data_range: 255 for uint8.

    Returns:
        (B,) float64.
    """
    gt, out = _check_pair(gt, out)
    total = torch.cat([(g - o).abs().flatten(1).sum(1) for g, o in _chunks(gt, out)])
    return total / (gt[0].numel() * data_range)


def _box_sum(x: torch.Tensor, k: int) -> torch.Tensor:
    """Sum over every valid k x k window of (..., H, W), as (..., H - k + 1, W - k + 1).

    Integer inputs are summed in their integer dtype (exact; 49 * 255**2 fits in int32), which is
    also about twice as fast as float64 on CPU.
    """
    dtype = x.dtype
    return x.unfold(-1, k, 1).sum(-1, dtype=dtype).unfold(-2, k, 1).sum(-1, dtype=dtype)


def ssim(gt: torch.Tensor, out: torch.Tensor, data_range: float = 255.) -> torch.Tensor:
    """SSIM per image, equal to ``structural_similarity(gt, out, channel_axis=-1, data_range=255)``.

    Uniform 7x7 window, sample covariance (N / (N - 1)), K1 = 0.01, K2 = 0.03, mean over the
    valid windows of each channel, then mean over channels.

    Args:
        gt: (B, C, H, W) or (C, H, W) uint8 ground truth, H and W >= 7.
        out: the same shape, the image to score.
        data_range: 255 for uint8.

    Returns:
        (B,) float64 SSIM in [-1, 1].
    """
    gt, out = _check_pair(gt, out)
    h, w = gt.shape[-2:]
    if h < SSIM_WIN_SIZE or w < SSIM_WIN_SIZE:
        raise ShapeError(
            f'SSIM needs images of at least {SSIM_WIN_SIZE}x{SSIM_WIN_SIZE}, got {h}x{w}')
    # uint8 / integer images: exact integer window sums; anything else: float64.
    dtype = torch.float64 if (gt.is_floating_point() or out.is_floating_point()) else torch.int32
    return torch.cat([_ssim_chunk(g, o, data_range) for g, o in _chunks(gt, out, dtype)])


def _ssim_chunk(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """SSIM of (b, C, H, W) int32 or float64 pairs -> (b,) float64."""
    b, c, h, w = x.shape
    k = SSIM_WIN_SIZE
    x = x.reshape(b * c, h, w)
    y = y.reshape(b * c, h, w)
    sums = _box_sum(torch.stack([x, y, x * x, y * y, x * y]), k).to(torch.float64)
    n = float(k * k)
    ux, uy, uxx, uyy, uxy = (sums / n).unbind(0)
    cov_norm = n / (n - 1)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (SSIM_K1 * data_range)**2
    c2 = (SSIM_K2 * data_range)**2
    a1 = 2 * ux * uy + c1
    a2 = 2 * vxy + c2
    b1 = ux**2 + uy**2 + c1
    b2 = vx + vy + c2
    s = (a1 * a2) / (b1 * b2)
    return s.flatten(1).mean(1).reshape(b, c).mean(1)
