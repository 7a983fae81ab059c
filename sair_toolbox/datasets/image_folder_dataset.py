"""Any folder of images, optionally with masks paired by file name.

Layout: ``data_root`` is searched recursively (sorted, extensions jpg/jpeg/png/bmp/webp/tif/tiff);
``ann_file`` may list relative image paths instead. With ``mask_dir`` (relative to ``data_root``
if it exists there, else to the working directory) each image ``a/b.jpg`` is
paired with the mask ``mask_dir/a/b.<any image extension>`` (or, failing that, the mask with the
same file stem anywhere in ``mask_dir`` if exactly one exists); ``LoadMask`` then uses that mask.
Without ``mask_dir`` the mask comes from the pipeline (``GenerateMask``, or ``LoadMask`` with a
``mask_root`` for a seeded choice from a mask folder).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

from sair_toolbox.datasets.base_inpaint_dataset import BaseInpaintDataset, require_dir
from sair_toolbox.datasets.image_io import IMAGE_EXTENSIONS
from sair_toolbox.datasets.masks.irregular_mask_set import read_list_file, scan_image_files
from sair_toolbox.registry import DATASETS
from sair_toolbox.utils.errors import DataError


def _pair_index(mask_dir: str) -> Dict[str, List[str]]:
    """``{relative path without extension: [rel paths]}`` plus ``{'#stem': [...]}`` entries."""
    index: Dict[str, List[str]] = {}
    for rel in scan_image_files(mask_dir):
        index.setdefault(osp.splitext(rel)[0], []).append(rel)
        index.setdefault('#' + osp.splitext(osp.basename(rel))[0], []).append(rel)
    return index


@DATASETS.register_module()
class ImageFolderDataset(BaseInpaintDataset):
    """Images from a folder (recursive); see the module docstring.

    Args:
        data_root: image folder.
        ann_file: optional list of image paths relative to ``data_root``.
        mask_dir: optional folder of masks paired with the images by name.
        extensions: image file extensions.
        **kwargs: see :class:`BaseInpaintDataset` (``metainfo=dict(classes=...)`` to name classes).
    """

    METAINFO = dict(classes=())

    def __init__(self,
                 data_root: str,
                 ann_file: str = '',
                 mask_dir: Optional[str] = None,
                 extensions: Sequence[str] = IMAGE_EXTENSIONS,
                 **kwargs):
        self.mask_dir = mask_dir
        self.extensions = tuple(extensions)
        super().__init__(data_root=data_root, ann_file=ann_file, with_label=False, **kwargs)

    def load_data_list(self) -> List[dict]:
        require_dir(self.data_root, 'data_root', self.name)
        mask_dir = self.mask_dir
        if mask_dir is not None:
            # relative: inside data_root if it exists there, else relative to the working dir
            if not osp.isabs(mask_dir) and osp.isdir(osp.join(self.data_root, mask_dir)):
                mask_dir = osp.join(self.data_root, mask_dir)
            require_dir(mask_dir, 'mask', self.name)
        if self.ann_file:
            rels = read_list_file(self.ann_file)
            missing = [r for r in rels if not osp.isfile(osp.join(self.data_root, r))]
            if missing:
                raise DataError(f'{self.name}: {len(missing)} images listed in {self.ann_file} '
                                f'are missing from {self.data_root} (first: {missing[0]})')
        else:
            rels = scan_image_files(self.data_root, self.extensions)
            if mask_dir is not None:  # a mask folder inside the image folder is not images
                mask_abs = osp.abspath(mask_dir) + osp.sep
                rels = [r for r in rels
                        if not osp.abspath(osp.join(self.data_root, r)).startswith(mask_abs)]
        if not rels:
            raise DataError(f'{self.name}: no images ({"/".join(self.extensions)}) found in '
                            f'{self.ann_file or self.data_root}')
        index = _pair_index(mask_dir) if mask_dir is not None else {}
        data_list, unpaired = [], []
        for rel in rels:
            info = dict(img_path=osp.join(self.data_root, rel))
            if mask_dir is not None:
                cands = index.get(osp.splitext(rel)[0]) or index.get(
                    '#' + osp.splitext(osp.basename(rel))[0], [])
                if len(cands) != 1:
                    unpaired.append(rel)
                    continue
                info['mask_path'] = osp.join(mask_dir, cands[0])
            data_list.append(info)
        if unpaired:
            raise DataError(f'{self.name}: {len(unpaired)} images have no (unique) mask of the '
                            f'same name in {mask_dir} (first: {unpaired[0]})')
        return data_list
