"""A folder of mask files (e.g. the irregular masks of Liu et al. 2018), grouped by hole ratio.

Layout: ``root/`` holds PNG (or any image) masks of any size, in sub-folders or not. Optional list
files name the masks of each ratio bin, one path per line relative to ``root`` (what
``tools/sort_masks.py MASK_DIR OUT_DIR`` writes as ``OUT_DIR/0-20.txt``, ``20-40.txt``,
``40-60.txt``). Without list files the bins are computed on first use by reading every mask once
(slow for thousands of masks: run ``tools/sort_masks.py`` once instead).

A mask's bin is decided by its hole ratio after resizing to ``ratio_size`` with nearest neighbour
(the evaluation size), which is what the metrics see.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from sair_toolbox.datasets.image_io import IMAGE_EXTENSIONS, POLARITIES, load_mask
from sair_toolbox.datasets.masks.ratio_bins import DEFAULT_BINS, assign_bin, bin_name
from sair_toolbox.utils.errors import ConfigError, DataError

#: Name of the list file for masks outside every bin, and of unreadable ones (sort_masks output).
OUT_OF_BINS_FILE = 'out_of_bins.txt'
UNREADABLE_FILE = 'unreadable.txt'
SUMMARY_FILE = 'summary.json'


def scan_image_files(root: str, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> List[str]:
    """Sorted relative paths (``/``-separated) of the image files under ``root``, recursively."""
    exts = tuple(e.lower() for e in extensions)
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        rel_dir = osp.relpath(dirpath, root)
        for name in filenames:
            if name.startswith('.') or not name.lower().endswith(exts):
                continue
            rel = name if rel_dir == '.' else osp.join(rel_dir, name)
            found.append(rel.replace(os.sep, '/'))
    return sorted(found)


def read_list_file(path: str) -> List[str]:
    """Non-empty, stripped lines of a list file (the first whitespace-separated field)."""
    if not osp.isfile(path):
        raise DataError(f'list file not found: {path}')
    with open(path, encoding='utf-8') as f:
        return [line.split()[0] for line in f if line.strip() and not line.startswith('#')]


class IrregularMaskSet:
    """Masks from a folder, binarised to 1 = hole, resizable to any image size.

    Args:
        root: folder of mask files.
        list_files: per-bin list files: a dict ``{'0-20': path, ...}`` or a folder that holds
            ``<bin>.txt`` files (the output folder of ``tools/sort_masks.py``). Relative paths in
            the dict are taken relative to the current directory. ``None``: compute bins lazily.
        bins: ratio bins, fractions.
        threshold: binarisation threshold, fraction of the bit depth's maximum.
        polarity: ``'white_is_hole'`` (default; Liu et al. 2018 as distributed by NVIDIA),
            ``'black_is_hole'`` or ``'auto'``. See :mod:`sair_toolbox.datasets.image_io`.
        ratio_size: ``(h, w)`` or int, the size at which hole ratios are measured for binning.

    Raises:
        DataError: ``root`` or a list file is missing, or ``root`` holds no mask files.
    """

    def __init__(self,
                 root: str,
                 list_files: Union[None, str, Mapping[str, str]] = None,
                 bins: Sequence[Tuple[float, float]] = DEFAULT_BINS,
                 threshold: float = 0.5,
                 polarity: str = 'white_is_hole',
                 ratio_size: Union[int, Sequence[int]] = 256):
        if polarity not in POLARITIES:
            raise ConfigError(f'mask polarity must be one of {POLARITIES}, got {polarity!r}')
        if not osp.isdir(root):
            raise DataError(f'mask folder not found: {root}')
        self.root = root
        self.bins = tuple(tuple(float(v) for v in b) for b in bins)
        self.bin_names = [bin_name(*b) for b in self.bins]
        self.threshold = float(threshold)
        self.polarity = polarity
        self.ratio_size = ((int(ratio_size), int(ratio_size)) if isinstance(ratio_size, int)
                           else (int(ratio_size[0]), int(ratio_size[1])))
        self._members: Optional[Dict[str, List[str]]] = None
        if list_files is not None:
            self._members = self._read_list_files(list_files)
            listed = sorted({p for paths in self._members.values() for p in paths})
            self.paths = listed
        else:
            self.paths = scan_image_files(root)
        if not self.paths:
            raise DataError(f'no mask files ({"/".join(IMAGE_EXTENSIONS)}) found in {root}'
                            + (' or its list files' if list_files is not None else ''))

    def _read_list_files(self, list_files) -> Dict[str, List[str]]:
        if isinstance(list_files, str):
            if not osp.isdir(list_files):
                raise DataError(f'mask list folder not found: {list_files} '
                                '(expected the output folder of tools/sort_masks.py)')
            list_files = {name: osp.join(list_files, f'{name}.txt') for name in self.bin_names}
        members = {}
        for name in self.bin_names:
            if name not in list_files:
                raise DataError(f'no list file given for mask bin {name} '
                                f'(got bins {sorted(list_files)})')
            paths = read_list_file(list_files[name])
            for rel in paths[:1]:  # check one entry eagerly: catches a wrong root cheaply
                if not osp.isfile(osp.join(self.root, rel)):
                    raise DataError(f'mask {rel} listed in {list_files[name]} not found under '
                                    f'{self.root}')
            members[name] = paths
        return members

    def __len__(self) -> int:
        return len(self.paths)

    def full_path(self, rel_path: str) -> str:
        return osp.join(self.root, rel_path)

    def load(self, rel_path: str, size: Optional[Sequence[int]] = None) -> np.ndarray:
        """Binary float32 mask (1 = hole), resized with nearest neighbour to ``size=(h, w)``."""
        return load_mask(self.full_path(rel_path), self.threshold, self.polarity, size)

    def hole_ratio(self, rel_path: str) -> float:
        """Hole fraction of a mask at ``ratio_size``."""
        return float(self.load(rel_path, self.ratio_size).mean())

    @property
    def members(self) -> Dict[str, List[str]]:
        """``{bin name: [relative paths]}``; computed by reading every mask if no list files."""
        if self._members is None:
            from mmengine.logging import print_log
            print_log(f'IrregularMaskSet: measuring the hole ratio of {len(self.paths)} masks in '
                      f'{self.root}; run tools/sort_masks.py once and pass list_files to skip this',
                      logger='current')
            members = {name: [] for name in self.bin_names}
            for rel in self.paths:
                name = assign_bin(self.hole_ratio(rel), self.bins)
                if name is not None:
                    members[name].append(rel)
            self._members = members
        return self._members

    def choose(self, rng: np.random.Generator, bin_name_: Optional[str] = None) -> str:
        """A mask path drawn uniformly with ``rng``: from bin ``bin_name_``, or from all masks."""
        if bin_name_ is None:
            return self.paths[int(rng.integers(len(self.paths)))]
        pool = self.members.get(bin_name_)
        if pool is None:
            raise ConfigError(f'unknown mask bin {bin_name_!r}; bins are {self.bin_names}')
        if not pool:
            raise DataError(f'mask folder {self.root} has no mask in bin {bin_name_}')
        return pool[int(rng.integers(len(pool)))]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(root={self.root!r}, n={len(self)}, '
                f'polarity={self.polarity!r}, threshold={self.threshold})')


def _ratio_job(args):
    path, threshold, polarity, size = args
    try:
        return float(load_mask(path, threshold, polarity, size).mean()), None
    except DataError as exc:
        return None, ' '.join(str(exc).split())


def sort_masks(mask_dir: str,
               out_dir: str,
               size: Union[int, Sequence[int]] = 256,
               threshold: float = 0.5,
               polarity: str = 'white_is_hole',
               bins: Sequence[Tuple[float, float]] = DEFAULT_BINS,
               jobs: int = 1) -> dict:
    """Assign every mask under ``mask_dir`` to a ratio bin and write the list files.

    Writes ``out_dir/<bin>.txt`` (relative paths, sorted), ``out_dir/out_of_bins.txt``
    (``path ratio`` per line), ``out_dir/unreadable.txt`` (``path<TAB>reason``) and
    ``out_dir/summary.json``.

    Args:
        mask_dir: folder of masks (searched recursively).
        out_dir: where the list files go (created).
        size: ``(h, w)`` or int: masks are resized to it (nearest) before measuring, since that is
            the ratio seen at evaluation.
        threshold, polarity: as in :func:`~sair_toolbox.datasets.image_io.load_mask`.
        bins: ratio bins.
        jobs: worker processes.

    Returns:
        dict: the summary (counts per bin, out-of-bin and unreadable counts, settings).
    """
    if polarity not in POLARITIES:
        raise ConfigError(f'mask polarity must be one of {POLARITIES}, got {polarity!r}')
    if not osp.isdir(mask_dir):
        raise DataError(f'mask folder not found: {mask_dir}')
    size = (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
    rel_paths = scan_image_files(mask_dir)
    if not rel_paths:
        raise DataError(f'no mask files ({"/".join(IMAGE_EXTENSIONS)}) found in {mask_dir}')
    job_args = [(osp.join(mask_dir, p), threshold, polarity, size) for p in rel_paths]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(_ratio_job, job_args, chunksize=64))
    else:
        results = [_ratio_job(a) for a in job_args]

    names = [bin_name(*b) for b in bins]
    members = {name: [] for name in names}
    outside, unreadable = [], []
    for rel, (ratio, error) in zip(rel_paths, results):
        if error is not None:
            unreadable.append((rel, error))
            continue
        name = assign_bin(ratio, bins)
        if name is None:
            outside.append((rel, ratio))
        else:
            members[name].append(rel)

    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        with open(osp.join(out_dir, f'{name}.txt'), 'w', encoding='utf-8') as f:
            f.writelines(f'{p}\n' for p in members[name])
    with open(osp.join(out_dir, OUT_OF_BINS_FILE), 'w', encoding='utf-8') as f:
        f.writelines(f'{p} {r:.6f}\n' for p, r in outside)
    with open(osp.join(out_dir, UNREADABLE_FILE), 'w', encoding='utf-8') as f:
        f.writelines(f'{p}\t{e}\n' for p, e in unreadable)
    summary = dict(
        mask_dir=osp.abspath(mask_dir), size=list(size), threshold=threshold, polarity=polarity,
        bins={name: len(members[name]) for name in names}, out_of_bins=len(outside),
        unreadable=[p for p, _ in unreadable], total=len(rel_paths))
    with open(osp.join(out_dir, SUMMARY_FILE), 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=2)
        f.write('\n')
    summary['unreadable_reasons'] = dict(unreadable)
    return summary
