"""PSNR / SSIM / L1 / LPIPS per mask-ratio bin: the evaluation protocol of the paper's Tab. 1-2."""
import math
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from sair_toolbox.registry import METRICS
from sair_toolbox.utils.errors import ConfigError, DataError, ShapeError

from ..image_quality import l1, psnr, ssim, to_uint8
from ..results_table import format_table
from .mask_bins import MaskBins

#: Metric names, in the order of the paper's tables.
METRIC_NAMES = ('PSNR', 'SSIM', 'L1', 'LPIPS')
#: Name of the group that holds every image.
ALL = 'all'


@METRICS.register_module()
class InpaintingMetric(BaseMetric):
    """Image-quality metrics of inpainted images, per mask-ratio bin and overall.

    The protocol of MISF, which the paper follows: each image is converted to uint8 RGB
    (``round(x * 255)``, clipped) and scored as a whole image against the ground truth with

    * PSNR and SSIM exactly as scikit-image computes them
      (``peak_signal_noise_ratio(gt, out, data_range=255)``,
      ``structural_similarity(gt, out, channel_axis=-1, data_range=255)``; computed by
      :mod:`sair_toolbox.evaluation.image_quality`, batched, on the data's device),
    * L1: mean absolute error in [0, 1] over all pixels and channels,
    * LPIPS (``lpips`` package, VGG trunk by default, inputs scaled to [-1, 1]; weights only from
      disk, see :func:`sair_toolbox.evaluation.lpips_loader.build_lpips`).

    Scores are averaged over the images of each bin. Returned keys (before the evaluator prefix):
    ``'{bin}/PSNR'``, ``'{bin}/SSIM'``, ``'{bin}/L1'``, ``'{bin}/LPIPS'`` and ``'{bin}/count'``
    for every bin (``'0-20'``, ``'20-40'``, ``'40-60'`` by default) and ``'all'``. A bin without
    images reports only its count (0). With ``report_input=True`` the same metrics of the masked
    input ``I * (1 - M)`` are added as ``'{bin}/input_PSNR'`` etc.

    Bin of an image: its ``mask_bin`` metainfo when that names one of the configured bins. With
    the default bins, ``mask_bin=None`` (a hole ratio outside every bin) counts only in ``'all'``.
    Otherwise (no ``mask_bin``, or custom bins) the bin is assigned from ``mask_ratio`` (or the
    mask's mean) with :func:`~sair_toolbox.datasets.masks.ratio_bins.assign_bin`.

    A perfect reconstruction has PSNR ``inf`` (as scikit-image), which then dominates its bin's
    mean: that only happens when the hole is empty or the prediction is exact.

    Args:
        bins: ``[(low, high), ...]`` hole-ratio bins as fractions; default the paper's
            ``((0, .2), (.2, .4), (.4, .6))``.
        score: ``'composite'`` scores ``output_img`` (``I * (1 - M) + pred * M``, the protocol),
            ``'raw'`` scores ``pred_img``, the implicit function's raw prediction.
        lpips: LPIPS trunk, ``'vgg'`` (default), ``'alex'`` or ``'squeeze'``; ``None`` or
            ``False`` disables LPIPS (its keys are then omitted).
        backbone_path: the torchvision ImageNet weights for the LPIPS trunk (file or folder);
            default torch hub's cache, ``torch.hub.get_dir()/checkpoints``.
        report_input: also score the masked input ``I * (1 - M)``.
        lpips_batch_size: images per LPIPS forward.
        log_table: log the per-bin table each time the metrics are computed (the validation
            logs); ``tools/test.py`` prints its own table and turns this off.
        keep_records: keep the per-image records of the last evaluation in :attr:`records`
            (MMEngine clears ``results`` after every ``evaluate``): one dict per image with
            ``bin``, ``img_path`` and every metric (``PSNR``, ``SSIM``, ``L1``, ``input_*``...),
            for per-image statistics such as the demo tables' paired comparisons.
        collect_device, prefix, collect_dir: see :class:`mmengine.evaluator.BaseMetric`.
            Results are one small dict of floats per image, so ``collect_device='cpu'`` (default)
            gathers them cheaply in distributed runs.
    """

    #: No prefix by default: keys are ``'0-20/PSNR'``; set ``prefix`` to add one.
    default_prefix: Optional[str] = ''

    def __init__(self,
                 bins: Optional[Sequence[Tuple[float, float]]] = None,
                 score: str = 'composite',
                 lpips: Union[str, bool, None] = 'vgg',
                 backbone_path: Optional[str] = None,
                 report_input: bool = False,
                 lpips_batch_size: int = 16,
                 log_table: bool = True,
                 keep_records: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.mask_bins = MaskBins(bins)
        self.bins, self.bin_names = self.mask_bins.bins, self.mask_bins.names
        self.custom_bins = self.mask_bins.custom
        if score not in ('composite', 'raw'):
            raise ConfigError(f"InpaintingMetric score must be 'composite' or 'raw', got {score!r}")
        self.score = score
        self.image_key = 'output_img' if score == 'composite' else 'pred_img'
        self.report_input = bool(report_input)
        self.log_table = bool(log_table)
        self.keep_records = bool(keep_records)
        #: The per-image records of the last :meth:`compute_metrics` (with ``keep_records``;
        #: on the main process in distributed runs, which computes the metrics), else ``[]``.
        self.records: List[dict] = []
        if lpips is True:
            lpips = 'vgg'
        self.lpips_net = lpips or None
        self.lpips_batch_size = int(lpips_batch_size)
        if self.lpips_batch_size < 1:
            raise ConfigError(f'lpips_batch_size must be >= 1, got {lpips_batch_size}')
        self._lpips = None
        if self.lpips_net is not None:
            from ..lpips_loader import build_lpips
            self._lpips = build_lpips(self.lpips_net, backbone_path)
        self.metric_names = tuple(m for m in METRIC_NAMES
                                  if m != 'LPIPS' or self._lpips is not None)

    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _get(sample: Dict[str, Any], key: str) -> torch.Tensor:
        value = sample.get(key)
        if value is None:
            raise DataError(f"InpaintingMetric: data sample of {sample.get('img_path', '?')} has "
                            f"no '{key}' (got keys {sorted(sample)})")
        if not isinstance(value, torch.Tensor):
            value = torch.as_tensor(value)
        return value

    def _image(self, sample: Dict[str, Any], key: str) -> torch.Tensor:
        img = self._get(sample, key)
        if img.dim() != 3 or img.shape[0] != 3:
            raise ShapeError(f"InpaintingMetric: '{key}' of {sample.get('img_path', '?')} must be "
                             f'(3, H, W), got {tuple(img.shape)}')
        return img

    @torch.no_grad()
    def _lpips_distance(self, gt: torch.Tensor, out: torch.Tensor) -> List[float]:
        """LPIPS of (B, 3, H, W) uint8 pairs, in batches, on their device."""
        model = self._lpips
        if next(model.parameters()).device != gt.device:
            model.to(gt.device)
        values = []
        for i in range(0, gt.shape[0], self.lpips_batch_size):
            x = 2 * (gt[i:i + self.lpips_batch_size].float() / 255) - 1
            y = 2 * (out[i:i + self.lpips_batch_size].float() / 255) - 1
            values.append(model(x, y).flatten())
        return torch.cat(values).double().cpu().tolist()

    def _scores(self, gt: torch.Tensor, out: torch.Tensor) -> Dict[str, List[float]]:
        """Every metric of (B, 3, H, W) uint8 pairs -> name -> B floats."""
        scores = {
            'PSNR': psnr(gt, out).cpu().tolist(),
            'SSIM': ssim(gt, out).cpu().tolist(),
            'L1': l1(gt, out).cpu().tolist(),
        }
        if self._lpips is not None:
            scores['LPIPS'] = self._lpips_distance(gt, out)
        return scores

    @torch.no_grad()
    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Score one batch; appends one dict of floats per image to ``self.results``.

        Args:
            data_batch: the dataloader batch (unused).
            data_samples: dicts (or :class:`InpaintDataSample`) with ``gt_img``, ``output_img``
                / ``pred_img`` (3, H, W) float in [0, 1], ``mask`` (1, H, W) (1 = missing; needed
                for ``report_input`` or when there is no ``mask_ratio``), ``mask_ratio``,
                ``mask_bin`` and ``img_path``.
        """
        samples = [s.to_dict() if isinstance(s, BaseDataElement) else s for s in data_samples]
        records, pairs = [], []
        for sample in samples:
            gt = self._image(sample, 'gt_img')
            out = self._image(sample, self.image_key).to(gt.device)
            if out.shape != gt.shape:
                raise ShapeError(f"InpaintingMetric: '{self.image_key}' {tuple(out.shape)} and "
                                 f"'gt_img' {tuple(gt.shape)} of {sample.get('img_path', '?')} "
                                 'differ')
            mask = sample.get('mask')
            if mask is not None or self.report_input:
                mask = self._get(sample, 'mask').to(gt.device)
                if mask.shape[-2:] != gt.shape[-2:]:
                    raise ShapeError(f"InpaintingMetric: mask {tuple(mask.shape)} does not fit "
                                     f"image {tuple(gt.shape)} of {sample.get('img_path', '?')}")
            pair = {'': (to_uint8(gt), to_uint8(out))}
            if self.report_input:
                pair['input_'] = (pair[''][0], to_uint8(gt.float() * (1 - mask.float())))
            pairs.append(pair)
            records.append({'bin': self.mask_bins.of(sample, mask),
                            'img_path': sample.get('img_path')})
        # Score images of equal size and device together.
        groups = defaultdict(list)
        for i, pair in enumerate(pairs):
            gt_u8 = pair[''][0]
            groups[(tuple(gt_u8.shape), str(gt_u8.device))].append(i)
        for idxs in groups.values():
            for kind in pairs[idxs[0]]:
                gt = torch.stack([pairs[i][kind][0] for i in idxs])
                out = torch.stack([pairs[i][kind][1] for i in idxs])
                for name, values in self._scores(gt, out).items():
                    for i, v in zip(idxs, values):
                        records[i][kind + name] = float(v)
        self.results.extend(records)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Mean of every metric per bin and over all images, plus counts.

        Args:
            results: the per-image dicts of :meth:`process`, from every rank.

        Returns:
            ``{'{bin}/{metric}': mean, '{bin}/count': n}`` for each configured bin and ``'all'``.
        """
        if self.keep_records:
            self.records = [dict(rec) for rec in results]
        groups: Dict[str, List[dict]] = {name: [] for name in self.bin_names + (ALL, )}
        for rec in results:
            groups[ALL].append(rec)
            if rec['bin'] in groups and rec['bin'] != ALL:
                groups[rec['bin']].append(rec)
        names = list(self.metric_names)
        if self.report_input:
            names += ['input_' + m for m in self.metric_names]
        metrics: Dict[str, float] = {}
        for group, recs in groups.items():
            if recs:
                for name in names:
                    # fsum: the same mean whatever order the ranks' results arrive in
                    metrics[f'{group}/{name}'] = math.fsum(r[name] for r in recs) / len(recs)
            metrics[f'{group}/count'] = len(recs)
        if self.log_table:
            print_log('\n' + format_table(metrics, title=f'InpaintingMetric ({self.score} output)'),
                      logger='current')
        return metrics
