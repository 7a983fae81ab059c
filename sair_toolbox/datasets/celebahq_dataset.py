"""CelebA-HQ faces with the CelebAMask-HQ annotations (19 classes).

Expected layout (``data_root`` = the unpacked ``CelebAMask-HQ`` folder)::

    data_root/
      CelebA-HQ-img/0.jpg ... 29999.jpg             images (1024x1024)
      CelebAMask-HQ-mask-anno/0/00000_skin.png ...  part masks (512x512), folder k holds images
        ...                                         2000k .. 2000k+1999, files {idx:05d}_{part}.png
      CelebAMask-HQ-mask-anno/14/...
      labels/0.png ... (optional)                   pre-merged label maps, values 0..18
      train.txt, test.txt                           split lists: one image per line, "123.jpg"
                                                    or "123" (the paper: 25,000 / 5,000 images)

The split lists are not part of the download: write them yourself (e.g. ``0.jpg``..``24999.jpg``
in ``train.txt`` and ``25000.jpg``..``29999.jpg`` in ``test.txt``) and point ``ann_file`` at them;
``ann_file=''`` takes every image in ``img_dir``.

Labels are optional (only the segmentation check needs them). They come from ``labels/{idx}.png``
if that folder exists, otherwise from the part masks, merged in the order of CelebAMask-HQ's own
``g_mask.py`` (a later part overwrites an earlier one): 0 background, 1 skin, 2 nose,
3 eyeglasses, 4 left eye, 5 right eye, 6 left eyebrow, 7 right eyebrow, 8 left ear, 9 right ear,
10 mouth, 11 upper lip, 12 lower lip, 13 hair, 14 hat, 15 earring, 16 necklace, 17 neck, 18 cloth.
Label maps at 512x512 are resized to the image size (nearest) by ``LoadLabelMap``. A pre-merged
folder made by another script (e.g. face-parsing.PyTorch uses a different order) needs
``metainfo=dict(classes=...)`` in that script's order.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

from sair_toolbox.datasets.base_inpaint_dataset import BaseInpaintDataset, require_dir
from sair_toolbox.datasets.image_io import IMAGE_EXTENSIONS
from sair_toolbox.datasets.masks.irregular_mask_set import read_list_file
from sair_toolbox.registry import DATASETS
from sair_toolbox.utils.errors import DataError

#: Part-mask file names of CelebAMask-HQ in the painting order of its ``g_mask.py``;
#: part ``i`` gets label ``i + 1``.
CELEBAMASK_HQ_PARTS = ('skin', 'nose', 'eye_g', 'l_eye', 'r_eye', 'l_brow', 'r_brow', 'l_ear',
                       'r_ear', 'mouth', 'u_lip', 'l_lip', 'hair', 'hat', 'ear_r', 'neck_l',
                       'neck', 'cloth')
#: Readable class names (used for CLIP text prompts), index = label.
CELEBAMASK_HQ_CLASSES = ('background', 'skin', 'nose', 'eyeglasses', 'left eye', 'right eye',
                         'left eyebrow', 'right eyebrow', 'left ear', 'right ear', 'mouth',
                         'upper lip', 'lower lip', 'hair', 'hat', 'earring', 'necklace', 'neck',
                         'cloth')

_PART_FILE = re.compile(r'^(\d+)_(.+)\.png$')


def _numeric_key(name: str):
    stem = osp.splitext(name)[0]
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)


def index_part_masks(parts_root: str) -> Dict[int, List[Tuple[int, str]]]:
    """``{image index: [(label, path), ...]}`` in painting order, from the part-mask folders."""
    order = {part: i + 1 for i, part in enumerate(CELEBAMASK_HQ_PARTS)}
    index: Dict[int, List[Tuple[int, str]]] = {}
    for sub in sorted(os.listdir(parts_root)):
        folder = osp.join(parts_root, sub)
        if not osp.isdir(folder):
            continue
        for name in os.listdir(folder):
            m = _PART_FILE.match(name)
            if m and m.group(2) in order:
                index.setdefault(int(m.group(1)), []).append(
                    (order[m.group(2)], osp.join(folder, name)))
    for parts in index.values():
        parts.sort()
    return index


@DATASETS.register_module()
class CelebAHQDataset(BaseInpaintDataset):
    """CelebA-HQ images (+ optional CelebAMask-HQ labels); see the module docstring for layout.

    Args:
        data_root: the ``CelebAMask-HQ`` folder.
        ann_file: split list (relative to ``data_root``), e.g. ``'train.txt'``; ``''`` = all.
        img_dir: image folder, relative to ``data_root``.
        label_dir: pre-merged label folder (``{idx}.png``), relative to ``data_root``.
        parts_dir: part-mask folder, relative to ``data_root``.
        with_label: ``None`` = load labels if ``label_dir`` or ``parts_dir`` exists; ``True`` =
            require them; ``False`` = never.
        **kwargs: see :class:`BaseInpaintDataset` (``pipeline``, ``test_mode``, ``mask_seed``...).
    """

    METAINFO = dict(classes=CELEBAMASK_HQ_CLASSES)

    def __init__(self,
                 data_root: str,
                 ann_file: str = '',
                 img_dir: str = 'CelebA-HQ-img',
                 label_dir: str = 'labels',
                 parts_dir: str = 'CelebAMask-HQ-mask-anno',
                 with_label: Optional[bool] = None,
                 **kwargs):
        self.img_dir = img_dir
        self.label_dir = label_dir
        self.parts_dir = parts_dir
        super().__init__(data_root=data_root, ann_file=ann_file, with_label=with_label, **kwargs)

    def _join(self, path: str) -> str:
        return path if osp.isabs(path) or not self.data_root else osp.join(self.data_root, path)

    def load_data_list(self) -> List[dict]:
        self._check_root()
        img_dir = self._join(self.img_dir)
        require_dir(img_dir, 'image', self.name)
        available = set(os.listdir(img_dir))
        if self.ann_file:
            names = []
            for entry in read_list_file(self.ann_file):
                if entry not in available and osp.splitext(entry)[1] == '':
                    entry = next((entry + e for e in ('.jpg', '.png', '.jpeg')
                                  if entry + e in available), entry + '.jpg')
                names.append(entry)
            missing = [n for n in names if n not in available]
            if missing:
                raise DataError(f'{self.name}: {len(missing)} images listed in {self.ann_file} '
                                f'are missing from {img_dir} (first: {missing[0]})')
        else:
            names = sorted((n for n in available if n.lower().endswith(IMAGE_EXTENSIONS)),
                           key=_numeric_key)
        if not names:
            raise DataError(f'{self.name}: no images in {self.ann_file or img_dir}')

        label_dir, parts_dir = self._join(self.label_dir), self._join(self.parts_dir)
        source = None
        if self.with_label is not False:
            if osp.isdir(label_dir):
                source = 'merged'
            elif osp.isdir(parts_dir):
                source = 'parts'
            elif self.with_label:
                raise DataError(f'{self.name}: with_label=True but neither label folder '
                                f'{label_dir} nor part-mask folder {parts_dir} exists')
        parts_index = index_part_masks(parts_dir) if source == 'parts' else {}
        labels_available = set(os.listdir(label_dir)) if source == 'merged' else set()

        data_list = []
        for name in names:
            stem = osp.splitext(name)[0]
            info = dict(img_path=osp.join(img_dir, name))
            if source == 'merged':
                if stem + '.png' not in labels_available:
                    raise DataError(f'{self.name}: label map {stem}.png for {name} not found in '
                                    f'{label_dir}')
                info['seg_map_path'] = osp.join(label_dir, stem + '.png')
            elif source == 'parts':
                if not stem.isdigit() or int(stem) not in parts_index:
                    raise DataError(f'{self.name}: no part masks for {name} in {parts_dir} '
                                    f'(expected {parts_dir}/<k>/{stem.zfill(5)}_<part>.png)')
                info['seg_parts'] = parts_index[int(stem)]
            data_list.append(info)
        return data_list
