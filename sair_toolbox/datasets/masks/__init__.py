from .irregular_mask_set import IrregularMaskSet, scan_image_files, sort_masks
from .pairing import mask_rng, pick_bin_index, sample_rng
from .procedural_mask_generator import ProceduralMaskGenerator, generate_mask
from .ratio_bins import DEFAULT_BINS, assign_bin, bin_name

__all__ = [
    'DEFAULT_BINS', 'assign_bin', 'bin_name', 'ProceduralMaskGenerator', 'generate_mask',
    'IrregularMaskSet', 'scan_image_files', 'sort_masks', 'mask_rng', 'sample_rng',
    'pick_bin_index'
]
