"""Mask transforms: a procedural mask, or a mask file (paired with the image or from a folder).

Both put ``results['mask']`` (float32 ``(H, W)`` in {0, 1}, 1 = missing) at the current image
size and ``results['mask_source']``. Place them after the geometric transforms that bring the
image to its final size (the mask is made at that size, so its hole ratio is the one evaluated),
or before them for masks paired with the original image (the geometric transforms move the mask
with the image).

Pairing (see :mod:`sair_toolbox.datasets.masks.pairing`): if the dataset set
``results['mask_seed']`` (evaluation), the mask depends on ``(mask_seed, sample_idx)`` only; the
bin is ``sample_idx % n_bins`` (balanced) or ``fixed_bin``. Otherwise (training) each draw is new
random, from the dataset's private stream.
"""
from typing import Mapping, Optional, Sequence, Tuple, Union

from mmcv.transforms import BaseTransform

from sair_toolbox.datasets.image_io import POLARITIES, load_mask, resize_nearest
from sair_toolbox.datasets.masks.irregular_mask_set import IrregularMaskSet
from sair_toolbox.datasets.masks.pairing import as_bins, mask_rng, pick_bin_index
from sair_toolbox.datasets.masks.procedural_mask_generator import ProceduralMaskGenerator
from sair_toolbox.datasets.masks.ratio_bins import DEFAULT_BINS, bin_name
from sair_toolbox.registry import TRANSFORMS
from sair_toolbox.utils.errors import ConfigError, DataError


def _bin_index(bins, fixed_bin: Union[None, int, str], owner: str) -> Optional[int]:
    if fixed_bin is None:
        return None
    names = [bin_name(*b) for b in bins]
    if isinstance(fixed_bin, str):
        if fixed_bin not in names:
            raise ConfigError(f'{owner}: fixed_bin {fixed_bin!r} is not one of {names}')
        return names.index(fixed_bin)
    if not 0 <= int(fixed_bin) < len(bins):
        raise ConfigError(f'{owner}: fixed_bin index {fixed_bin} out of range for {names}')
    return int(fixed_bin)


def _image_size(results: dict, owner: str) -> Tuple[int, int]:
    img = results.get('img')
    if img is None:
        raise DataError(f'{owner}: results have no img (put LoadImage before it)')
    return img.shape[:2]


@TRANSFORMS.register_module()
class GenerateMask(BaseTransform):
    """A procedural free-form mask (strokes + boxes) whose hole ratio lies in a bin.

    Args:
        bins: ratio bins ``[(lo, hi), ...]``.
        fixed_bin: always use this bin (index or name like ``'20-40'``); default: evaluation
            uses bin ``sample_idx % len(bins)``, training a uniformly random bin.
        **generator_cfg: keyword arguments of :class:`ProceduralMaskGenerator`.
    """

    def __init__(self, bins: Sequence[Sequence[float]] = DEFAULT_BINS,
                 fixed_bin: Union[None, int, str] = None, **generator_cfg):
        self.bins = as_bins(bins)
        if not self.bins:
            raise ConfigError('GenerateMask: bins is empty')
        self.fixed_bin = _bin_index(self.bins, fixed_bin, 'GenerateMask')
        self.generator = ProceduralMaskGenerator(**generator_cfg)

    def transform(self, results: dict) -> dict:
        h, w = _image_size(results, 'GenerateMask')
        rng = mask_rng(results)
        idx = pick_bin_index(results, len(self.bins), rng, self.fixed_bin, balanced=True)
        results['mask'] = self.generator.generate(h, w, rng, self.bins[idx])
        results['mask_source'] = 'procedural'
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(bins={self.bins}, fixed_bin={self.fixed_bin}, '
                f'generator={self.generator!r})')


@TRANSFORMS.register_module()
class LoadMask(BaseTransform):
    """A mask file, resized to the current image size with nearest neighbour and binarised.

    If the dataset paired a mask with the image (``results['mask_path']``) that file is used.
    Otherwise a mask is chosen from ``mask_root`` (an :class:`IrregularMaskSet`).

    Args:
        mask_root: folder of masks (e.g. the Liu et al. 2018 irregular masks). Optional if every
            sample has a ``mask_path``.
        list_files: per-bin list files: dict ``{'0-20': path, ...}`` or the output folder of
            ``tools/sort_masks.py``; without them bins are measured on first use.
        bins: ratio bins.
        balanced: draw from bin ``sample_idx % n_bins`` (evaluation) or a random bin (training);
            ``False``: uniformly from all masks.
        fixed_bin: always draw from this bin (index or name).
        threshold: binarisation threshold, fraction of the bit depth's maximum.
        polarity: ``'white_is_hole'`` (default, NVIDIA irregular masks), ``'black_is_hole'`` or
            ``'auto'`` (minority = hole; wrong for masks above 50%).
        ratio_size: size at which mask ratios are measured for binning.
    """

    def __init__(self,
                 mask_root: Optional[str] = None,
                 list_files: Union[None, str, Mapping[str, str]] = None,
                 bins: Sequence[Sequence[float]] = DEFAULT_BINS,
                 balanced: bool = True,
                 fixed_bin: Union[None, int, str] = None,
                 threshold: float = 0.5,
                 polarity: str = 'white_is_hole',
                 ratio_size: Union[int, Sequence[int]] = 256):
        if polarity not in POLARITIES:
            raise ConfigError(f'LoadMask: polarity must be one of {POLARITIES}, got {polarity!r}')
        self.bins = as_bins(bins)
        self.balanced = balanced
        self.fixed_bin = _bin_index(self.bins, fixed_bin, 'LoadMask')
        self.threshold = float(threshold)
        self.polarity = polarity
        self.mask_root = mask_root
        self.mask_set = None
        if mask_root is not None:
            self.mask_set = IrregularMaskSet(mask_root, list_files, self.bins, threshold,
                                             polarity, ratio_size)

    def transform(self, results: dict) -> dict:
        size = _image_size(results, 'LoadMask')
        if results.get('mask_path'):
            path = results['mask_path']
            results['mask'] = load_mask(path, self.threshold, self.polarity, size)
            results['mask_source'] = f'paired:{path}'
            return results
        if self.mask_set is None:
            raise DataError(f'LoadMask: no mask_path for {results.get("img_path")} and no '
                            'mask_root configured')
        rng = mask_rng(results)
        idx = pick_bin_index(results, len(self.bins), rng, self.fixed_bin, self.balanced)
        rel = self.mask_set.choose(rng, None if idx is None else bin_name(*self.bins[idx]))
        mask = self.mask_set.load(rel)
        results['mask'] = resize_nearest(mask, size)
        results['mask_source'] = f'folder:{rel}'
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(mask_root={self.mask_root!r}, bins={self.bins}, '
                f'balanced={self.balanced}, fixed_bin={self.fixed_bin}, '
                f'threshold={self.threshold}, polarity={self.polarity!r})')

