"""torch-fidelity's FID Inception-v3 built from a local weights file only, never downloading.

``torch_fidelity.FeatureExtractorInceptionV3`` is the TensorFlow FID network (the 2015-12-05
graph of the original FID code, converted by torch-fidelity), taking uint8 images of any size
(resized to 299 x 299 inside, TF1-compatible bilinear). With ``feature_extractor_weights_path=None``
it downloads the weights; :func:`build_inception` always passes a local file and fails first, in
one line, when the file is missing.
"""
import os.path as osp
import zipfile
from typing import Optional

import torch

from sair_toolbox.utils.errors import ConfigError, WeightsNotFoundError

#: The file torch-fidelity downloads (``torch_fidelity.feature_extractor_inceptionv3``).
INCEPTION_URL = ('https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/'
                 'weights-inception-2015-12-05-6726825d.pth')
INCEPTION_FILE = osp.basename(INCEPTION_URL)
#: The pool3 features FID, KID and IDS are computed on (the others exist for cheap checks).
FEATURE_LAYER = '2048'
FEATURE_LAYERS = ('64', '192', '768', '2048')


def default_inception_path() -> str:
    """Where torch-fidelity's download would put it: ``torch.hub.get_dir()/checkpoints/<file>``."""
    return osp.join(torch.hub.get_dir(), 'checkpoints', INCEPTION_FILE)


def resolve_inception_path(weights_path: Optional[str] = None) -> str:
    """The Inception weights file to read (a file, a folder holding it, or None: torch hub's
    cache), which must exist.

    Raises:
        WeightsNotFoundError: one line naming the file, where to put it and how to switch the
            metric off.
    """
    path = default_inception_path() if weights_path is None else osp.expanduser(str(weights_path))
    if osp.isdir(path):
        path = osp.join(path, INCEPTION_FILE)
    if not osp.isfile(path):
        raise WeightsNotFoundError(
            f"FID/KID/P-IDS/U-IDS need torch-fidelity's Inception weights {INCEPTION_FILE}, not "
            f'found: put the file at {osp.abspath(path)} (from {INCEPTION_URL}) or drop the '
            'DistributionMetric from the evaluator')
    return path


def build_inception(weights_path: Optional[str] = None,
                    feature_layer: str = FEATURE_LAYER) -> torch.nn.Module:
    """torch-fidelity's FID Inception-v3 returning the 2048-d pool3 features.

    Args:
        weights_path: see :func:`resolve_inception_path`.
        feature_layer: ``'2048'`` (pool3, the standard) or an earlier average-pooled block
            (``'64'``, ``'192'``, ``'768'``; torch-fidelity's names), which stops the forward
            there.

    Returns:
        a frozen eval-mode module: (B, 3, H, W) uint8 -> a 1-tuple with (B, D) float32.

    Raises:
        WeightsNotFoundError: missing or unreadable file.
        ConfigError: torch-fidelity is not installed.
    """
    if str(feature_layer) not in FEATURE_LAYERS:
        raise ConfigError(f'Inception feature_layer must be one of {FEATURE_LAYERS}, got '
                          f'{feature_layer!r}')
    path = resolve_inception_path(weights_path)
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as exc:
        raise ConfigError('the Inception metrics need torch-fidelity: pip install -r '
                          'requirements/optional.txt -c requirements/constraints.txt') from exc
    try:
        # A plain state dict (checked safely first); torch-fidelity then reads it itself.
        state = torch.load(path, map_location='cpu', weights_only=True,
                           mmap=zipfile.is_zipfile(path))
        if not isinstance(state, dict) or 'fc.weight' not in state:
            raise ValueError('not a torch-fidelity Inception state dict')
        return FeatureExtractorInceptionV3('inception-v3-compat', [str(feature_layer)],
                                           feature_extractor_weights_path=path)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WeightsNotFoundError(f'cannot load the Inception weights {path}: {first}') from exc


__all__ = ['INCEPTION_FILE', 'INCEPTION_URL', 'build_inception', 'default_inception_path',
           'resolve_inception_path']
