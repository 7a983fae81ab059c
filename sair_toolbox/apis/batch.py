"""Folder runs that lose nothing: every output written atomically, bad files skipped, resumable.

:func:`run_batch` inpaints ``(image, mask, output)`` triples one by one
(:func:`sair_toolbox.apis.inputs.pair_files` pairs two folders by file stem):

* a file that cannot be read, a mask that does not fit, an image without a mask or a request
  that cannot fit in memory is reported in one line and skipped; the others go on;
* every output is written to a temporary file in its own folder, then renamed over the final
  name (``os.replace``, atomic on POSIX), so a run killed at any point leaves each output either
  complete or absent -- never half written;
* ``skip_existing=True`` continues an interrupted run: outputs already on disk are kept, and the
  temporary files a killed run left behind are removed;
* a progress bar (tqdm if installed, else a plain counter) and a summary at the end
  (:class:`BatchReport`); the tool exits non-zero if any image failed.

``tools/inpaint.py`` is a thin CLI over this module.
"""
import os
import os.path as osp
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, TextIO, Tuple

import numpy as np

from sair_toolbox.utils.errors import DataError, SAIRError, one_line

#: Infix of the temporary files outputs are written to before their rename.
TMP_INFIX = '.sair-tmp-'

Triple = Tuple[str, Optional[str], str]


@dataclass
class BatchReport:
    """What a folder run did.

    Attributes:
        done: output paths written by this run.
        skipped: output paths that already existed (``skip_existing``), left as they were.
        failed: ``(input path, one-line reason)`` of every pair that was skipped as bad.
        seconds: wall time of the run.
    """
    done: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No pair failed."""
        return not self.failed

    def summary(self) -> str:
        """One line per failure, then the counts as the last line; the counts name the output
        folder(s) only when they hold an output of this run or an earlier one (a run whose
        every image failed names none)."""
        total = len(self.done) + len(self.skipped) + len(self.failed)
        lines = [f'  failed: {path}: {reason}' for path, reason in self.failed]
        counts = (f'{total} images: {len(self.done)} written, {len(self.skipped)} already done '
                  f'(skipped), {len(self.failed)} failed ({self.seconds:.1f} s)')
        folders = sorted({osp.dirname(osp.abspath(p)) for p in self.done + self.skipped
                          if osp.isfile(p)})
        if folders:
            counts += '; outputs in ' + ', '.join(folders[:3]) + (', ...' if len(folders) > 3
                                                                   else '')
        return '\n'.join(lines + [counts])


def tmp_path_for(path: str) -> str:
    """A temporary path in the folder of ``path``, unique to this process, with the same
    extension (so that the image format is the same): ``<dir>/.<name>.sair-tmp-<pid><ext>``."""
    folder, name = osp.split(osp.abspath(path))
    ext = osp.splitext(name)[1]
    return osp.join(folder, f'.{name}{TMP_INFIX}{os.getpid()}{ext}')


def save_atomic(image: np.ndarray, path: str) -> None:
    """Write an image file so that ``path`` is either absent or complete, never half written.

    The image goes to :func:`tmp_path_for` (same folder, so the rename stays on one file
    system), is flushed to disk, then renamed over ``path`` with ``os.replace``.

    Args:
        image: (H, W, 3) uint8 RGB (or anything ``PIL.Image.fromarray`` takes).
        path: the output file; its extension picks the format; folders are made.

    Raises:
        DataError: unknown extension, no permission, disk full (the temporary file is removed).
    """
    from PIL import Image
    path = os.fspath(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    ext = osp.splitext(path)[1].lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None:
        raise DataError(f'cannot write {path}: unknown image extension {ext or "(none)"!r}')
    tmp = tmp_path_for(path)
    try:
        with open(tmp, 'wb') as f:
            _encode(image, fmt, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (ValueError, KeyError, OSError) as exc:
        if osp.exists(tmp):
            os.remove(tmp)
        raise DataError(f'cannot write {path}: {one_line(exc)}') from None


def _encode(image: np.ndarray, fmt: str, f) -> None:
    """Write ``image`` to the open file ``f`` in PIL format ``fmt``. PNGs of RGB uint8 images
    go through OpenCV's libpng at compression level 1 (lossless; a 12-megapixel photo in about
    half the time of PIL's encoder, files about 10 % larger); JPEGs at quality 95; the rest
    through PIL's defaults."""
    from PIL import Image
    if fmt == 'PNG' and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        try:
            import cv2
        except ImportError:  # pragma: no cover - opencv is a runtime requirement
            cv2 = None
        if cv2 is not None:
            ok, buf = cv2.imencode('.png', np.ascontiguousarray(image[..., ::-1]),
                                   [cv2.IMWRITE_PNG_COMPRESSION, 1])
            if ok:
                f.write(buf.tobytes())
                return
    options = dict(quality=95) if fmt == 'JPEG' else {}
    Image.fromarray(image).save(f, format=fmt, **options)


def remove_stale_tmp(outputs: Sequence[str]) -> List[str]:
    """Remove the temporary files that a killed run left next to ``outputs``; returns them."""
    removed = []
    wanted = {}
    for out in outputs:
        folder, name = osp.split(osp.abspath(out))
        wanted.setdefault(folder, set()).add(name)
    for folder, names in wanted.items():
        if not osp.isdir(folder):
            continue
        for entry in os.listdir(folder):
            if not entry.startswith('.') or TMP_INFIX not in entry:
                continue
            if entry[1:entry.index(TMP_INFIX)] in names:
                os.remove(osp.join(folder, entry))
                removed.append(osp.join(folder, entry))
    return removed


class _PlainBar:
    """A counter on one line of ``stream`` (when tqdm is not installed)."""

    def __init__(self, total: int, stream: TextIO):
        self.total, self.n, self.stream, self.start = total, 0, stream, time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.n += n
        rate = self.n / max(time.perf_counter() - self.start, 1e-9)
        self.stream.write(f'\r[{self.n}/{self.total}] {rate:.2f} images/s')
        self.stream.flush()

    def write(self, line: str) -> None:
        self.stream.write('\r' + line + '\n')
        self.stream.flush()

    def close(self) -> None:
        self.stream.write('\n')
        self.stream.flush()


def progress_bar(total: int, enabled: bool = True, stream: TextIO = None):
    """A progress bar with ``update()``, ``write(line)`` and ``close()``: tqdm if installed, else
    a plain counter; a silent one when ``enabled`` is False."""
    stream = stream or sys.stderr
    if not enabled:
        class _Silent:
            def update(self, n=1):
                pass

            def write(self, line):
                stream.write(line + '\n')

            def close(self):
                pass
        return _Silent()
    try:
        from tqdm import tqdm
    except ImportError:
        return _PlainBar(total, stream)
    bar = tqdm(total=total, file=stream, unit='image', dynamic_ncols=True)
    bar.write = lambda line, _w=bar.write: _w(line, file=stream)
    return bar


def run_batch(inferencer, triples: Sequence[Triple], scale: Optional[float] = None,
              size: Optional[Sequence[int]] = None, text: Optional[str] = None,
              strength: Optional[float] = None, guidance_scale: Optional[str] = None,
              skip_existing: bool = False, progress: bool = True,
              on_done: Optional[Callable[[str, str], None]] = None) -> BatchReport:
    """Inpaint ``(image, mask, output)`` triples, losing nothing (see the module docstring).

    Args:
        inferencer: a :class:`~sair_toolbox.apis.SAIRInferencer`.
        triples: ``(image path, mask path or None, output path)``; a None mask (no mask of that
            stem) is reported as a failure.
        scale, size: the output size (see :func:`~sair_toolbox.apis.inputs.output_size`).
        text, strength, guidance_scale: text-guided fill (see :meth:`SAIRInferencer.iter`).
        skip_existing: keep outputs that already exist (continue an interrupted run).
        progress: show a progress bar (on stderr).
        on_done: called with ``(image path, output path)`` after each output is written.

    Returns:
        :class:`BatchReport`.

    Raises:
        SAIRError: only for what concerns every image (bad options, a text the model cannot
            steer to); a bad file is reported in the report instead.
    """
    from .inputs import load_pair, output_size
    output_size((1, 1), scale, size)  # the options, before anything runs
    start = time.perf_counter()
    report = BatchReport()
    remove_stale_tmp([t[2] for t in triples])
    todo = []
    for triple in triples:
        if skip_existing and osp.isfile(triple[2]):
            report.skipped.append(triple[2])
        else:
            todo.append(triple)
    steer = inferencer.steering(text, strength, guidance_scale) if todo else None
    bar = progress_bar(len(triples), progress)
    bar.update(len(report.skipped))
    try:
        for img_path, mask_path, out_path in todo:
            try:
                if mask_path is None:
                    raise DataError(f'no mask for image {img_path} (expected a mask file with '
                                    'the same stem)')
                rgb, hole = load_pair(img_path, mask_path, inferencer.threshold,
                                      inferencer.polarity)
                out_size = output_size(rgb.shape[:2], scale, size)
                result = inferencer.inpaint_array(rgb, hole, out_size, steer, labels=False)
                save_atomic(result.output, out_path)
            except (SAIRError, OSError) as exc:
                reason = one_line(exc)
                report.failed.append((img_path, reason))
                bar.write(f'skipped {img_path}: {reason}')
            else:
                report.done.append(out_path)
                if on_done is not None:
                    on_done(img_path, out_path)
            bar.update()
    finally:
        bar.close()
        report.seconds = time.perf_counter() - start
    return report
