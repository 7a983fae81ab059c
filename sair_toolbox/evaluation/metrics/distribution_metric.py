"""FID / KID / P-IDS / U-IDS per mask-ratio bin: the field's distribution metrics."""
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from sair_toolbox.registry import METRICS
from sair_toolbox.utils.errors import ConfigError, DataError, ShapeError

from ..distribution_stats import fid_from_features, ids_from_features, kid_from_features
from ..image_quality import to_uint8
from ..results_table import format_table
from .inpainting_metric import ALL
from .mask_bins import MaskBins

#: The metrics this class computes, in table order.
DISTRIBUTION_METRICS = ('FID', 'KID', 'P-IDS', 'U-IDS')


def build_feature_net(cfg: dict) -> Tuple[torch.nn.Module, bool]:
    """The feature network of a :class:`DistributionMetric` and whether it takes uint8 input.

    ``dict(type='InceptionV3', weights_path=...)``: torch-fidelity's FID Inception (uint8 in,
    2048-d pool3 out, :func:`~sair_toolbox.evaluation.inception_loader.build_inception`). Any
    other type is a ``SEMANTIC_ENCODERS`` or ``MODELS`` config of a module mapping (B, 3, H, W)
    float images in [0, 1] to (B, D) or (B, D, h, w) (spatially averaged) features, e.g. the
    demo world's ``DemoFeatureNet``.
    """
    cfg = dict(cfg)
    kind = cfg.get('type')
    if kind == 'InceptionV3':
        from ..inception_loader import build_inception
        cfg.pop('type')
        return build_inception(**cfg), True
    from sair_toolbox.registry import MODELS, SEMANTIC_ENCODERS
    registry = SEMANTIC_ENCODERS if SEMANTIC_ENCODERS.get(kind) is not None else MODELS
    net = registry.build(cfg)
    net.requires_grad_(False)
    net.eval()
    return net, False


@METRICS.register_module()
class DistributionMetric(BaseMetric):
    """FID, KID, P-IDS and U-IDS of the inpainted images against their ground truths, per
    mask-ratio bin and overall.

    Every image contributes a real feature (``gt_img``) and a paired fake feature (``output_img``,
    the composite, or ``pred_img`` with ``score='raw'``), both from the uint8 images (``round(x *
    255)``, as :class:`InpaintingMetric` scores). The statistics are those of
    :mod:`sair_toolbox.evaluation.distribution_stats` (FID and KID as torch-fidelity computes
    them, P-IDS/U-IDS as CoModGAN defines them). Keys: ``'{bin}/{name_prefix}FID'``, ``.../KID``
    (the mean over subsets), ``.../P-IDS``, ``.../U-IDS`` for every bin and ``'all'``, so they sit
    beside :class:`InpaintingMetric`'s ``'{bin}/PSNR'`` in the same tables and JSON (no count:
    InpaintingMetric reports it). A bin with fewer than 2 images reports nothing. Distribution
    metrics need many images (CoModGAN: 36,500 for FID): on small sets they are biased and
    noisy, so compare models only on the same images.

    Bins as :class:`InpaintingMetric` assigns them (``mask_bin``, else ``mask_ratio`` or the
    mask's mean).

    Args:
        feature_net: ``dict(type='InceptionV3', weights_path=None)`` (default: torch hub's
            cache; a missing file fails here in one line) or another feature network (see
            :func:`build_feature_net`).
        metrics: which of ``('FID', 'KID', 'P-IDS', 'U-IDS')`` to report.
        name_prefix: prepended to the metric names: ``'demo-'`` for the demo world's network,
            whose numbers are not comparable to Inception's.
        bins, score: as :class:`InpaintingMetric`.
        kid_subsets, kid_subset_size, kid_seed: KID's estimator (torch-fidelity's defaults;
            the subset size is capped at the bin's image count).
        batch_size: images per feature-network forward.
        log_table: log the per-bin table each time the metrics are computed.
        collect_device, prefix, collect_dir: see :class:`mmengine.evaluator.BaseMetric`.
    """

    default_prefix: Optional[str] = ''

    def __init__(self,
                 feature_net: Optional[dict] = None,
                 metrics: Sequence[str] = DISTRIBUTION_METRICS,
                 name_prefix: str = '',
                 bins: Optional[Sequence[Tuple[float, float]]] = None,
                 score: str = 'composite',
                 kid_subsets: int = 100,
                 kid_subset_size: int = 1000,
                 kid_seed: int = 2020,
                 batch_size: int = 32,
                 log_table: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        unknown = [m for m in metrics if m not in DISTRIBUTION_METRICS]
        if unknown or not metrics:
            raise ConfigError(f'DistributionMetric metrics must be among {DISTRIBUTION_METRICS}, '
                              f'got {list(metrics)}')
        if score not in ('composite', 'raw'):
            raise ConfigError(f"DistributionMetric score must be 'composite' or 'raw', got "
                              f'{score!r}')
        if int(batch_size) < 1:
            raise ConfigError(f'DistributionMetric batch_size must be >= 1, got {batch_size}')
        self.metric_names = tuple(m for m in DISTRIBUTION_METRICS if m in metrics)
        self.name_prefix = str(name_prefix)
        self.mask_bins = MaskBins(bins)
        self.bins, self.bin_names = self.mask_bins.bins, self.mask_bins.names
        self.custom_bins = self.mask_bins.custom
        self.score = score
        self.image_key = 'output_img' if score == 'composite' else 'pred_img'
        self.kid = dict(subsets=int(kid_subsets), subset_size=int(kid_subset_size),
                        seed=int(kid_seed))
        self.batch_size = int(batch_size)
        self.log_table = bool(log_table)
        self.net, self.uint8_input = build_feature_net(
            feature_net or dict(type='InceptionV3', weights_path=None))

    # ------------------------------------------------------------------------------------------
    def _image(self, sample: Dict[str, Any], key: str) -> torch.Tensor:
        img = sample.get(key)
        if img is None:
            raise DataError(f"DistributionMetric: data sample of {sample.get('img_path', '?')} "
                            f"has no '{key}' (got keys {sorted(sample)})")
        img = torch.as_tensor(img)
        if img.dim() != 3 or img.shape[0] != 3:
            raise ShapeError(f"DistributionMetric: '{key}' of {sample.get('img_path', '?')} "
                             f'must be (3, H, W), got {tuple(img.shape)}')
        return img

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        """(B, 3, H, W) uint8 images -> (B, D) float64 features, in batches, on their device."""
        param = next(self.net.parameters(), None)
        if param is not None and param.device != images.device:
            self.net.to(images.device)
        out = []
        for i in range(0, images.shape[0], self.batch_size):
            x = images[i:i + self.batch_size]
            if not self.uint8_input:
                x = x.float() / 255
            f = self.net(x)
            if isinstance(f, (tuple, list)):
                f = f[0]
            if f.dim() == 4:
                f = f.float().mean(dim=(2, 3))
            if f.dim() != 2:
                raise ShapeError(f'DistributionMetric: the feature network returned '
                                 f'{tuple(f.shape)}, expected (B, D) or (B, D, h, w)')
            out.append(f.double().cpu())
        return torch.cat(out).numpy()

    @torch.no_grad()
    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Extract the real and fake features of one batch (one record per image).

        Args:
            data_batch: unused.
            data_samples: dicts or data samples with ``gt_img`` and ``output_img`` / ``pred_img``
                (3, H, W) in [0, 1], and ``mask_bin`` / ``mask_ratio`` / ``mask``.
        """
        samples = [s.to_dict() if isinstance(s, BaseDataElement) else s for s in data_samples]
        groups: Dict[tuple, List[int]] = OrderedDict()
        reals, fakes, records = [], [], []
        for i, sample in enumerate(samples):
            gt = self._image(sample, 'gt_img')
            out = self._image(sample, self.image_key).to(gt.device)
            if out.shape != gt.shape:
                raise ShapeError(f"DistributionMetric: '{self.image_key}' {tuple(out.shape)} and "
                                 f"'gt_img' {tuple(gt.shape)} of {sample.get('img_path', '?')} "
                                 'differ')
            reals.append(to_uint8(gt))
            fakes.append(to_uint8(out))
            records.append({'bin': self.mask_bins.of(sample, sample.get('mask'))})
            groups.setdefault((tuple(gt.shape), str(gt.device)), []).append(i)
        for idxs in groups.values():  # images of equal size and device together
            batch = torch.stack([reals[i] for i in idxs] + [fakes[i] for i in idxs])
            feats = self.features(batch)
            for j, i in enumerate(idxs):
                records[i]['real'] = feats[j].astype(np.float32)
                records[i]['fake'] = feats[len(idxs) + j].astype(np.float32)
        self.results.extend(records)

    def _group_metrics(self, real: np.ndarray, fake: np.ndarray) -> Dict[str, float]:
        out = {}
        if 'FID' in self.metric_names:
            out['FID'] = fid_from_features(real, fake)
        if 'KID' in self.metric_names:
            out['KID'] = kid_from_features(real, fake, **self.kid)['mean']
        if 'P-IDS' in self.metric_names or 'U-IDS' in self.metric_names:
            ids = ids_from_features(real, fake)
            out.update({k: v for k, v in ids.items() if k in self.metric_names})
        return out

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """The metrics per bin and over all images.

        Args:
            results: the per-image records of :meth:`process`, from every rank (in dataset
                order, so the statistics do not depend on the number of processes).

        Returns:
            ``{'{bin}/{name_prefix}{metric}': value}``.
        """
        groups: Dict[str, List[dict]] = {name: [] for name in self.bin_names + (ALL, )}
        for rec in results:
            groups[ALL].append(rec)
            if rec['bin'] in groups and rec['bin'] != ALL:
                groups[rec['bin']].append(rec)
        metrics: Dict[str, float] = {}
        for group, recs in groups.items():
            if len(recs) < 2:
                continue
            real = np.stack([r['real'] for r in recs])
            fake = np.stack([r['fake'] for r in recs])
            for name, value in self._group_metrics(real, fake).items():
                metrics[f'{group}/{self.name_prefix}{name}'] = value
        if self.log_table and metrics:
            print_log('\n' + format_table(metrics, title=f'DistributionMetric ({self.score} '
                                          'output)'), logger='current')
        return metrics
