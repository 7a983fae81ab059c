"""ADE20K scene parsing (ADEChallengeData2016), 150 classes.

Expected layout (``data_root`` = the unpacked ``ADEChallengeData2016`` folder)::

    data_root/
      images/training/ADE_train_00000001.jpg ...      20,210 images
      images/validation/ADE_val_00000001.jpg ...       2,000 images
      annotations/training/ADE_train_00000001.png ...  label maps, 0 = "other", 1..150 = classes
      annotations/validation/...

Label maps are read with ``reduce_zero_label``: 0 ("other") becomes 255 (ignored) and class ``k``
becomes ``k - 1``, so labels index :data:`ADE20K_CLASSES` (MMSegmentation's convention).
An optional ``ann_file`` lists image names (with or without ``.jpg``) to use a subset.
"""
import os
import os.path as osp
from typing import List, Optional

from sair_toolbox.datasets.base_inpaint_dataset import BaseInpaintDataset, require_dir
from sair_toolbox.datasets.masks.irregular_mask_set import read_list_file
from sair_toolbox.registry import DATASETS
from sair_toolbox.utils.errors import ConfigError, DataError

#: The 150 ADE20K classes in label order (after reduce_zero_label), as in MMSegmentation
#: (``'bed '`` written without its trailing space).
ADE20K_CLASSES = (
    'wall', 'building', 'sky', 'floor', 'tree', 'ceiling', 'road', 'bed', 'windowpane', 'grass',
    'cabinet', 'sidewalk', 'person', 'earth', 'door', 'table', 'mountain', 'plant', 'curtain',
    'chair', 'car', 'water', 'painting', 'sofa', 'shelf', 'house', 'sea', 'mirror', 'rug',
    'field', 'armchair', 'seat', 'fence', 'desk', 'rock', 'wardrobe', 'lamp', 'bathtub',
    'railing', 'cushion', 'base', 'box', 'column', 'signboard', 'chest of drawers', 'counter',
    'sand', 'sink', 'skyscraper', 'fireplace', 'refrigerator', 'grandstand', 'path', 'stairs',
    'runway', 'case', 'pool table', 'pillow', 'screen door', 'stairway', 'river', 'bridge',
    'bookcase', 'blind', 'coffee table', 'toilet', 'flower', 'book', 'hill', 'bench',
    'countertop', 'stove', 'palm', 'kitchen island', 'computer', 'swivel chair', 'boat', 'bar',
    'arcade machine', 'hovel', 'bus', 'towel', 'light', 'truck', 'tower', 'chandelier',
    'awning', 'streetlight', 'booth', 'television receiver', 'airplane', 'dirt track',
    'apparel', 'pole', 'land', 'bannister', 'escalator', 'ottoman', 'bottle', 'buffet',
    'poster', 'stage', 'van', 'ship', 'fountain', 'conveyer belt', 'canopy', 'washer',
    'plaything', 'swimming pool', 'stool', 'barrel', 'basket', 'waterfall', 'tent', 'bag',
    'minibike', 'cradle', 'oven', 'ball', 'food', 'step', 'tank', 'trade name', 'microwave',
    'pot', 'animal', 'bicycle', 'lake', 'dishwasher', 'screen', 'blanket', 'sculpture', 'hood',
    'sconce', 'vase', 'traffic light', 'tray', 'ashcan', 'fan', 'pier', 'crt screen', 'plate',
    'monitor', 'bulletin board', 'shower', 'radiator', 'glass', 'clock', 'flag')
assert len(ADE20K_CLASSES) == 150


@DATASETS.register_module()
class ADE20KDataset(BaseInpaintDataset):
    """ADEChallengeData2016 images and label maps; see the module docstring for the layout.

    Args:
        data_root: the ``ADEChallengeData2016`` folder.
        split: ``'training'`` or ``'validation'`` (chooses the default folders).
        img_dir: image folder relative to ``data_root`` (default ``images/<split>``).
        ann_dir: label folder relative to ``data_root`` (default ``annotations/<split>``).
        ann_file: optional list of image names (relative to ``data_root``).
        with_label: ``None`` = load labels if ``ann_dir`` exists; ``True`` = require them.
        **kwargs: see :class:`BaseInpaintDataset`.
    """

    METAINFO = dict(classes=ADE20K_CLASSES)

    def __init__(self,
                 data_root: str,
                 split: str = 'training',
                 img_dir: Optional[str] = None,
                 ann_dir: Optional[str] = None,
                 ann_file: str = '',
                 with_label: Optional[bool] = None,
                 **kwargs):
        if split not in ('training', 'validation'):
            raise ConfigError(f'ADE20KDataset: split must be training or validation, got {split!r}')
        self.split = split
        self.img_dir = img_dir or f'images/{split}'
        self.ann_dir = ann_dir or f'annotations/{split}'
        super().__init__(data_root=data_root, ann_file=ann_file, with_label=with_label, **kwargs)

    def _join(self, path: str) -> str:
        return path if osp.isabs(path) or not self.data_root else osp.join(self.data_root, path)

    def load_data_list(self) -> List[dict]:
        self._check_root()
        img_dir, ann_dir = self._join(self.img_dir), self._join(self.ann_dir)
        require_dir(img_dir, 'image', self.name)
        available = set(os.listdir(img_dir))
        if self.ann_file:
            names = [n if osp.splitext(n)[1] else n + '.jpg' for n in read_list_file(self.ann_file)]
            missing = [n for n in names if n not in available]
            if missing:
                raise DataError(f'{self.name}: {len(missing)} images listed in {self.ann_file} '
                                f'are missing from {img_dir} (first: {missing[0]})')
        else:
            names = sorted(n for n in available if n.lower().endswith(('.jpg', '.jpeg')))
        if not names:
            raise DataError(f'{self.name}: no .jpg images in {self.ann_file or img_dir}')
        use_labels = False
        if self.with_label is not False:
            if osp.isdir(ann_dir):
                use_labels = True
            elif self.with_label:
                raise DataError(f'{self.name}: annotation folder not found: {ann_dir}')
        labels = set(os.listdir(ann_dir)) if use_labels else set()
        data_list = []
        for name in names:
            info = dict(img_path=osp.join(img_dir, name), reduce_zero_label=True)
            if use_labels:
                label = osp.splitext(name)[0] + '.png'
                if label not in labels:
                    raise DataError(f'{self.name}: label map {label} for {name} not found in '
                                    f'{ann_dir}')
                info['seg_map_path'] = osp.join(ann_dir, label)
            data_list.append(info)
        return data_list
