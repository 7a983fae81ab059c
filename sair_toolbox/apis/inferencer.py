"""``SAIRInferencer``: inpaint users' images from Python, at any output resolution.

    from sair_toolbox.apis import SAIRInferencer
    inferencer = SAIRInferencer('configs/sair/sair_demo.py', 'work_dirs/sair_demo/iter_600.pth')
    result = inferencer('photo.png', 'hole.png', scale=2)
    result.save('filled.png')                       # result.output: (2H, 2W, 3) uint8 RGB
    result.colors_sir                               # the SIR field's class map (H, W, 3) uint8

The tool ``tools/inpaint.py`` and the web demo (:mod:`sair_toolbox.apis.web_demo`) are thin
layers over this class.
"""
import os
import os.path as osp
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from sair_toolbox.utils.errors import ConfigError, DataError, ResourceError

from .inputs import load_pair, output_size
from .memory import allocation_error, check_request, format_bytes, memory_limit, parse_bytes
from .strategies import CROP_MARGIN, Plan, check_strategy, choose

#: The config used when none is given (the embedded demo).
DEFAULT_CONFIG = 'configs/sair/sair_demo.py'
#: Where the repository's configs live when the package is an editable install.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@dataclass
class InpaintResult:
    """What one inpainting call returns.

    Attributes:
        output: (H', W', 3) uint8 RGB; at the input size the composite (known pixels kept),
            at any other size the rendered continuous representation.
        masked: (H, W, 3) uint8, the masked input ``I * (1 - M)`` the model saw.
        mask: (H, W) float32 in {0, 1}, 1 = missing.
        class_names: the L class names of the label maps (None without label maps).
        labels_masked: (H, W) int64 zero-shot labels of the masked image's semantic features
            (``Z_sem(I_m)`` resized, "without SIR"), or None.
        labels_sir: (H, W) int64 zero-shot labels of the field AIR rendered from (the SIR field,
            steered in the hole when ``text`` was given), or None.
        colors_masked, colors_sir: (H, W, 3) uint8 colour images of the two label maps.
        palette: (L, 3) uint8 colours of the classes.
        text: the text the hole was steered to, or None.
        strategy: how the photo was fed to the model (``'full'``, ``'resize'`` or ``'crop'``;
            :mod:`sair_toolbox.apis.strategies`); with ``resize``/``crop`` the label maps are
            those of the photo resized to the working size, shown at the photo's size.
        crops: the regions encoded, ``(y0, y1, x0, x1)`` in photo pixels (``[]`` for ``full``).
        note: why the strategy differs from the one asked for, or ``''``.
    """
    output: np.ndarray
    masked: np.ndarray
    mask: np.ndarray
    class_names: Optional[List[str]] = None
    labels_masked: Optional[np.ndarray] = None
    labels_sir: Optional[np.ndarray] = None
    colors_masked: Optional[np.ndarray] = None
    colors_sir: Optional[np.ndarray] = None
    palette: Optional[np.ndarray] = None
    text: Optional[str] = None
    strategy: str = 'full'
    crops: List[Tuple[int, int, int, int]] = field(default_factory=list)
    note: str = ''

    def save(self, path: str) -> None:
        """Write :attr:`output` as an image file (format from the extension; folders made),
        atomically: a temporary file in the same folder renamed over ``path``
        (:func:`sair_toolbox.apis.batch.save_atomic`), so ``path`` is never half written."""
        from .batch import save_atomic
        save_atomic(self.output, path)


def resolve_config(config: Optional[str]) -> str:
    """The config file: as given, or relative to the repository (for the default config)."""
    config = config or DEFAULT_CONFIG
    if osp.isfile(config):
        return config
    in_repo = osp.join(_REPO_ROOT, config)
    if not osp.isabs(config) and osp.isfile(in_repo):
        return in_repo
    raise ConfigError(f'config {config} does not exist')


def resolve_checkpoint(config: str, checkpoint: Optional[str]) -> str:
    """The given checkpoint, or the last one recorded in ``work_dirs/<config name>``."""
    if checkpoint:
        return os.fspath(checkpoint)
    name = osp.splitext(osp.basename(config))[0]
    for work_dir in (osp.join('work_dirs', name), osp.join(_REPO_ROOT, 'work_dirs', name)):
        record = osp.join(work_dir, 'last_checkpoint')
        if osp.isfile(record):
            with open(record) as f:
                path = f.read().strip()
            # MMEngine records the path as the training run saw it (maybe relative to its cwd).
            for candidate in (path, osp.join(work_dir, osp.basename(path))):
                if osp.isfile(candidate):
                    return candidate
            raise ConfigError(f'{record} names {path}, which does not exist; pass --checkpoint')
    raise ConfigError(f'no checkpoint given and work_dirs/{name}/last_checkpoint does not exist; '
                      f'train first (python tools/train.py {config}) or pass a checkpoint')


def _resolve_device(device: Optional[Union[str, torch.device]]) -> torch.device:
    if device is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f'invalid device {device!r}: {exc}') from None
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ConfigError(f'device {device} requested but CUDA is not available; use cpu')
    return device


def _compose(edits: List[Callable]) -> Optional[Callable]:
    if not edits:
        return None

    def edit(field):
        for fn in edits:
            field = fn(field)
        return field

    return edit


def _as_list(value: Any) -> Optional[list]:
    return list(value) if isinstance(value, (list, tuple)) else None


def _masked(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The masked input ``I * (1 - M)`` as uint8 (H, W, 3) (hole pixels black), without float
    copies of the photo."""
    return rgb * (hole[..., None] <= 0)


def _name(value: Any, default: str) -> str:
    """An input's path (for messages), or ``default`` for arrays and PIL images."""
    return os.fspath(value) if isinstance(value, (str, os.PathLike)) else default


class SAIRInferencer:
    """Inpaint images with a trained SAIR model (or any of its ablations).

    Everything cheap is checked in the constructor -- the config and checkpoint files (a file
    that is not a checkpoint, empty or truncated is one :class:`SAIRError` line), the device
    and the precision -- and every input is read and checked when called; the model itself is
    built on first use (or by :attr:`model`).

    Args:
        config: model config file (default: the demo config).
        checkpoint: checkpoint file; default: the last one in ``work_dirs/<config name>``.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``...; default CUDA if available.
        precision: ``'auto'`` (default: bf16 where the CPU's oneDNN or the GPU has native
            bfloat16 kernels, fp16 on CUDA without bfloat16, else fp32) | ``'fp32'`` |
            ``'bf16'`` | ``'fp16'`` (autocast, see :mod:`sair_toolbox.utils.precision`).
            ``self.precision`` is the resolved name, ``self.precision_reason`` why (logged once).
        class_names: names of the label maps' classes; default the checkpoint's
            ``meta['dataset_meta']['classes']`` (what MMEngine's Runner stores from the training
            set's metainfo), else the config's dataset classes.
        palette: (L, 3) RGB colours of the classes; default the dataset meta's palette.
        threshold: mask binarisation threshold (fraction of white).
        polarity: ``'white_is_hole'`` (default) | ``'black_is_hole'`` | ``'auto'``.
        guidance: defaults of the text-guided fill, ``dict(strength=1.0, scale='match_norm')``
            (see :mod:`sair_toolbox.models.field_edits`); the config's ``text_guidance`` dict,
            if any, comes first, then this argument.
        max_memory: the most memory one request may need (bytes, or ``'8GB'``...); a request
            whose estimate is above it is refused with one :class:`ResourceError` line before it
            runs. Default: the ``SAIR_MAX_MEMORY`` environment variable, else 80% of the memory
            available at the time of the request (see :mod:`sair_toolbox.apis.memory`).
        strategy: how a photo is fed to the model (:mod:`sair_toolbox.apis.strategies`):
            ``'auto'`` (default: ``crop`` for a photo larger than the working size at its own
            output size, else ``full``) | ``'full'`` | ``'resize'`` | ``'crop'``; a call's
            ``strategy=`` overrides it.
        working_size: the resolution the model was trained at (the ``resize``/``crop`` input's
            longer side); default the config's ``img_size`` (64 for the demo configs, 256 for
            the paper's), else unknown (``auto`` then encodes the whole photo).
        crop_margin: context around each hole box, a fraction of its longer side
            (:func:`~sair_toolbox.apis.strategies.plan_crops`).
    """

    def __init__(self, config: Optional[str] = None, checkpoint: Optional[str] = None,
                 device: Optional[Union[str, torch.device]] = None, precision: str = 'auto',
                 class_names: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None, threshold: float = 0.5,
                 polarity: str = 'white_is_hole', guidance: Optional[dict] = None,
                 max_memory: Optional[Union[int, float, str]] = None, strategy: str = 'auto',
                 working_size: Optional[int] = None, crop_margin: float = CROP_MARGIN):
        from sair_toolbox.engine.setup import register_all_modules
        from sair_toolbox.models.field_edits import check_guidance_scale
        from sair_toolbox.utils.precision import log_precision, resolve_precision

        from .model import dataset_meta_of, load_config, read_checkpoint
        self.config = resolve_config(config)
        self.checkpoint = resolve_checkpoint(self.config, checkpoint)
        self.device = _resolve_device(device)
        self.precision, self.precision_reason = resolve_precision(precision, self.device)
        log_precision(precision, self.precision, self.precision_reason)
        self.threshold = float(threshold)
        self.polarity = polarity
        self.max_memory = None if max_memory is None else parse_bytes(max_memory)
        # The model itself is built on first use (_build_model); the files are checked now.
        self.cfg = load_config(self.config)
        self._state, meta = read_checkpoint(self.checkpoint)
        register_all_modules()
        #: The checkpoint's ``meta['dataset_meta']``, else the config's dataset metainfo.
        self.dataset_meta = dataset_meta = dataset_meta_of(self.cfg, meta)
        self.class_names = ([str(n) for n in class_names] if class_names is not None else
                            [str(n) for n in dataset_meta.get('classes') or []] or None)
        self.palette = self._palette(palette if palette is not None
                                     else dataset_meta.get('palette'))
        self.guidance = dict(strength=1.0, scale='match_norm')
        self.guidance.update(dict(self.cfg.get('text_guidance') or {}))
        self.guidance.update(dict(guidance or {}))
        unknown = set(self.guidance) - {'strength', 'scale'}
        if unknown:
            raise ConfigError(f'text guidance takes strength and scale, got {self.guidance}')
        check_guidance_scale(self.guidance['scale'])
        self.strategy = check_strategy(strategy)
        if crop_margin < 0:
            raise ConfigError(f'crop_margin must be >= 0, got {crop_margin}')
        self.crop_margin = float(crop_margin)
        self.working_size = self._working_size(working_size)
        self._model = None
        self._text = None  # (embedder, class embeddings) once built
        self._lock = threading.Lock()

    def _working_size(self, working_size: Optional[int]) -> Optional[int]:
        """The model's working size: as given, else the config's ``img_size``, else None."""
        value = working_size if working_size is not None else self.cfg.get('img_size')
        if value is None:
            return None
        try:
            size = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f'working_size must be an integer, got {value!r}') from None
        if size < 8:
            raise ConfigError(f'working_size must be at least 8, got {size}')
        return size

    def plan(self, photo_size: Tuple[int, int], size: Tuple[int, int],
             hole: Optional[np.ndarray] = None, strategy: Optional[str] = None) -> Plan:
        """What a request does with a photo (:func:`~sair_toolbox.apis.strategies.choose`):
        the strategy resolved, its crops and their model sizes; ``hole=None`` plans a bound
        (one crop of the whole photo)."""
        return choose(strategy or self.strategy, photo_size, size, hole, self.working_size,
                      self.crop_margin)

    # ------------------------------------------------------------------ lazily built parts
    def _palette(self, palette) -> Optional[np.ndarray]:
        from sair_toolbox.visualization import default_palette
        if not self.class_names:
            return None
        num = len(self.class_names)
        if palette is not None:
            table = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
            if len(table) >= num:
                return table[:num]
        return default_palette(num)

    @property
    def model(self):
        """The model in eval mode on :attr:`device` (built and loaded on first access)."""
        with self._lock:
            if self._model is None:
                self._model = self._build_model()
        return self._model

    def _build_model(self):
        """:func:`~sair_toolbox.apis.model.init_model`'s steps on the checkpoint read by the
        constructor (built, checked to inpaint, loaded strictly, eval mode on the device)."""
        from .model import build_model, load_weights
        model = build_model(self.cfg)
        if not hasattr(model, 'inpaint'):
            raise ConfigError(f'{self.config} builds {type(model).__name__}, which does not '
                              'inpaint')
        load_weights(model, self._state, self.checkpoint, self.config)
        self._state = None
        model = getattr(model, 'inference_model', model)  # a GAN checkpoint: its generator
        model.cfg = self.cfg
        model.dataset_meta = dict(self.dataset_meta)
        return model.to(self.device).eval()

    @property
    def has_semantics(self) -> bool:
        """Whether the model has a semantic branch (SIR), hence label maps and text guidance."""
        return getattr(self.model, 'sir', None) is not None

    def _text_side(self):
        """(CLIPTextEmbedder, (L, c) class embeddings or None), built once; None if the
        semantic encoder has no text tower (SAM)."""
        if self._text is None:
            from sair_toolbox.models.zero_shot import build_text_embedder, semantic_encoder_cfg
            try:
                enc_cfg = semantic_encoder_cfg(self.cfg.model)
            except ConfigError:
                self._text = (None, None)
                return self._text
            embedder = build_text_embedder(enc_cfg, str(self.device))
            classes = embedder.embed(self.class_names) if self.class_names else None
            self._text = (embedder, classes)
        return self._text

    @property
    def class_embeddings(self) -> Optional[torch.Tensor]:
        """(L, c) text embeddings of :attr:`class_names`, or None (no SIR, no CLIP text tower
        or no class names)."""
        if not (self.has_semantics and self.class_names):
            return None
        return self._text_side()[1]

    def text_embedding(self, text: str) -> torch.Tensor:
        """(c,) embedding of a class name (prompt ensemble) or of a literal prompt."""
        from sair_toolbox.models.field_edits import text_embedding_for
        if not self.has_semantics:
            raise ConfigError(f'text-guided fill needs a model with SIR; {self.config} has none')
        embedder, classes = self._text_side()
        if embedder is None:
            raise ConfigError(f'text-guided fill needs a CLIP (text-aligned) semantic encoder; '
                              f'{self.config} has none')
        return text_embedding_for(embedder, text, self.class_names, classes)

    # ------------------------------------------------------------------ inference
    def __call__(self, img: Any, mask: Any, **kwargs) -> Union[InpaintResult,
                                                                 List[InpaintResult]]:
        """Inpaint one image, or a list of them.

        Args:
            img: an image (path, numpy array or PIL image; see
                :func:`sair_toolbox.apis.inputs.to_rgb`) or a list of them.
            mask: the hole(s), same kinds, 1 = white = missing by default; one mask or one per
                image.
            **kwargs: see :meth:`iter`.

        Returns:
            An :class:`InpaintResult`, or a list of them for a list of images.
        """
        imgs = _as_list(img)
        results = list(self.iter(imgs if imgs is not None else [img],
                                 mask if imgs is not None else [mask], **kwargs))
        return results if imgs is not None else results[0]

    def iter(self, imgs: Sequence[Any], masks: Any, scale: Optional[float] = None,
             size: Optional[Sequence[int]] = None, text: Optional[str] = None,
             strength: Optional[float] = None, guidance_scale: Optional[str] = None,
             labels: bool = True, progress: Optional[bool] = None,
             strategy: Optional[str] = None, render: str = 'native'
             ) -> Iterator[InpaintResult]:
        """Inpaint images one by one (a generator: results are not all kept in memory).

        Every image and mask is read and checked before the first is inpainted (and before the
        model is built), so a bad file late in a folder fails at once with its path; then every
        request's memory is estimated against :attr:`max_memory` (see
        :mod:`sair_toolbox.apis.memory`), so an output that cannot fit is refused in one line
        before anything runs.

        Args:
            imgs: images (see :meth:`__call__`).
            masks: one mask for all, or one per image.
            scale: output size = input size x ``scale`` (default 1).
            size: output ``(H', W')`` (instead of ``scale``; giving both is a
                :class:`ConfigError`).
            text: text-guided fill: a class name or a prompt the hole is steered to.
            strength, guidance_scale: override :attr:`guidance` (see
                :func:`sair_toolbox.models.field_edits.steer_field`).
            labels: compute the zero-shot label maps (models with SIR and class names).
            progress: show a progress bar (default: for more than one image).
            strategy: override :attr:`strategy` for these images (``'auto'``, ``'full'``,
                ``'resize'``, ``'crop'``; :mod:`sair_toolbox.apis.strategies`).
            render: ``'native'`` (default: AIR renders the hole at the photo's pixel grid) or
                ``'bicubic'`` (``resize``/``crop`` only: the fill is rendered at the model's grid
                and bicubically upsampled; a comparison, not a recommendation).

        Yields:
            :class:`InpaintResult` per image.

        Raises:
            DataError: a bad image or mask (NaN/inf or out-of-range arrays included).
            ConfigError: contradictory or invalid options (``scale`` and ``size`` both given).
            ResourceError: a request whose memory estimate is above the limit, or an allocation
                that failed while it ran.
        """
        from sair_toolbox.models.field_edits import check_guidance_scale
        if guidance_scale is not None:
            check_guidance_scale(guidance_scale)
        strategy = check_strategy(strategy or self.strategy, render)
        imgs = list(imgs)
        mask_list = _as_list(masks)
        if mask_list is None:
            mask_list = [masks] * len(imgs)
        if len(mask_list) != len(imgs):
            raise DataError(f'{len(imgs)} images but {len(mask_list)} masks')
        if not imgs:
            raise DataError('no images given')
        many = len(imgs) > 1
        checked, sizes = [], []
        for i, (im, m) in enumerate(zip(imgs, mask_list)):
            pair = load_pair(im, m, self.threshold, self.polarity, index=i if many else None)
            sizes.append((pair[0].shape[:2], output_size(pair[0].shape[:2], scale, size)))
            on_disk = all(isinstance(v, (str, os.PathLike)) for v in (im, m))
            checked.append(None if on_disk and many else pair)  # re-read later: memory bound
        plans = []  # from the hole where it is kept (else a bound; planned again when read)
        for i, (in_size, out_size) in enumerate(sizes):
            pair = checked[i]
            plan = self.plan(in_size, out_size, pair and pair[1], strategy)
            plans.append(plan if pair is not None else None)
            self.check_memory(in_size, out_size, labels,
                              name=_name(imgs[i], f'image #{i}' if many else 'the image'),
                              plan=plan)
        steer = self.steering(text, strength, guidance_scale)
        bar = None
        if progress if progress is not None else many:
            from mmengine.utils import ProgressBar
            bar = ProgressBar(len(imgs))
        for i, (im, m) in enumerate(zip(imgs, mask_list)):
            rgb, hole = checked[i] or load_pair(im, m, self.threshold, self.polarity, index=i)
            checked[i] = None
            result = self.inpaint_array(rgb, hole, output_size(rgb.shape[:2], scale, size),
                                        steer, labels, strategy, render, plans[i])
            result.text = str(text) if steer is not None else None
            if bar is not None:
                bar.update()
            yield result

    def steering(self, text: Optional[str], strength: Optional[float] = None,
                 guidance_scale: Optional[str] = None) -> Optional[Tuple[torch.Tensor, dict]]:
        """What :meth:`inpaint_array` takes as ``steer``: ``(text embedding (c,),
        dict(strength, scale))`` with :attr:`guidance` overridden by the arguments, or None for
        no (or a blank) text."""
        from sair_toolbox.models.field_edits import check_guidance_scale
        if guidance_scale is not None:
            check_guidance_scale(guidance_scale)
        if text is None or not str(text).strip():
            return None
        steer = (self.text_embedding(text), dict(self.guidance))
        if strength is not None:
            steer[1]['strength'] = float(strength)
        if guidance_scale is not None:
            steer[1]['scale'] = guidance_scale
        return steer

    def check_memory(self, input_size: Tuple[int, int], size: Tuple[int, int],
                     labels: bool = True, name: str = 'the image',
                     limit: Optional[Tuple[Optional[int], str]] = None,
                     plan: Optional[Plan] = None, queries: Optional[int] = None) -> int:
        """Refuse, in one line, a request whose memory estimate is above the limit.

        Args:
            input_size: ``(H, W)`` of the input.
            size: ``(H', W')`` of the output.
            labels: the label maps would be computed (if the model can).
            name: how to call the input in the message.
            limit: ``(bytes or None, source)``; default :func:`~.memory.memory_limit` of
                :attr:`max_memory` on :attr:`device`.
            plan: the request's :meth:`plan` (default: ``full``); a ``resize``/``crop`` plan is
                estimated by :func:`~.strategies.estimate_photo` (the model at its regions'
                sizes, the photo's own arrays).
            queries: hole pixels AIR renders (default: every pixel, a bound).

        Returns:
            the estimate in bytes.

        Raises:
            ResourceError: the estimate is above the limit.
        """
        from .memory import ENV_VAR
        from .strategies import boxes_text, estimate_photo
        limit = limit or memory_limit(self.max_memory, self.device)
        with_labels = bool(labels and self.class_names and self.has_semantics)
        if plan is None or plan.strategy == 'full':
            return check_request(self.model, input_size, size, limit, with_labels,
                                 len(self.class_names or ()), name)
        h, w = input_size
        queries = h * w if queries is None else int(queries)
        if with_labels:  # the label maps come from the photo resized to the working size
            plan = Plan(plan.strategy, plan.boxes, plan.sizes + [self.plan(
                input_size, size, None, 'resize').sizes[0]])
        need = estimate_photo(self.model, plan, input_size, queries, with_labels,
                              len(self.class_names or ()))
        bytes_, source = limit
        if bytes_ is not None and need > bytes_:
            what = 'the resized photo' if plan.strategy == 'resize' else boxes_text(plan.boxes)
            raise ResourceError(
                f'{name} ({w}x{h}, strategy {plan.strategy}: {what}) needs about '
                f'{format_bytes(need)} of memory, above the limit of {format_bytes(bytes_)} '
                f'({source}); raise the limit (max_memory= / --max-memory / {ENV_VAR})')
        return need

    @torch.no_grad()
    def inpaint_array(self, rgb: np.ndarray, hole: np.ndarray, size: Tuple[int, int],
                      steer: Optional[Tuple[torch.Tensor, dict]] = None,
                      labels: bool = True, strategy: Optional[str] = None,
                      render: str = 'native', plan: Optional[Plan] = None) -> InpaintResult:
        """Inpaint one checked pair (see :func:`sair_toolbox.apis.inputs.load_pair`).

        Args:
            rgb: (H, W, 3) uint8.
            hole: (H, W) float32 in {0, 1}.
            size: output ``(H', W')``.
            steer: ``(text embedding (c,), dict(strength, scale))`` or None.
            labels: compute the label maps if the model can.
            strategy, render: see :meth:`iter`.
            plan: this pair's :meth:`plan` when the caller already made it (from ``hole``, for
                ``strategy`` and ``size``); made here otherwise.

        Raises:
            ResourceError: the request's memory estimate is above the limit (checked before it
                runs), or an allocation failed while it ran; one line either way.
        """
        size = (int(size[0]), int(size[1]))
        strategy = check_strategy(strategy or self.strategy, render)
        limit = memory_limit(self.max_memory, self.device)
        plan = plan or self.plan(rgb.shape[:2], size, hole, strategy)
        self.check_memory(rgb.shape[:2], size, labels, limit=limit, plan=plan,
                          queries=int(np.count_nonzero(hole)))
        try:
            if plan.strategy == 'full':
                result = self._inpaint_array(rgb, hole, size, steer, labels)
            else:
                result = self._inpaint_regions(rgb, hole, plan, steer, labels, render)
            result.strategy, result.crops, result.note = plan.strategy, plan.boxes, plan.note
            return result
        except (RuntimeError, MemoryError) as exc:
            error = allocation_error(exc, size, limit)
            if error is None:
                raise
            raise error from None

    def _inpaint_array(self, rgb: np.ndarray, hole: np.ndarray, size: Tuple[int, int],
                       steer: Optional[Tuple[torch.Tensor, dict]],
                       labels: bool) -> InpaintResult:
        from sair_toolbox.models.field_edits import FieldSteering
        from sair_toolbox.utils.precision import autocast
        model = self.model
        img = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
        img = img.float().div(255).to(self.device)
        mask = torch.from_numpy(np.ascontiguousarray(hole))[None, None].to(self.device)
        edits, captured = [], {}
        if steer is not None:
            edits.append(FieldSteering(steer[0], mask, **steer[1]))
        class_embeddings = self.class_embeddings if labels else None
        if class_embeddings is not None:
            def capture(field):
                captured['field'] = field
                return field
            edits.append(capture)
        with autocast(self.precision, self.device):
            out = model.inpaint(img, mask, size=tuple(size), field_edit=_compose(edits))
            if class_embeddings is not None:
                captured['masked'] = model.semantic_features(img, mask, use_sir=False)
        # In place on the fresh float32 render (no full-size temporaries; same values).
        output = out[0].float().clamp_(0, 1).mul_(255).round_().byte()
        del out
        output = output.permute(1, 2, 0).cpu().numpy()
        result = InpaintResult(output=np.ascontiguousarray(output), masked=_masked(rgb, hole),
                               mask=hole)
        if class_embeddings is not None:
            self._set_labels(result, captured['masked'], captured['field'], class_embeddings)
        return result

    def _set_labels(self, result: InpaintResult, masked: torch.Tensor, field: torch.Tensor,
                    class_embeddings: torch.Tensor,
                    size: Optional[Tuple[int, int]] = None) -> None:
        """Label maps of the two semantic fields (B=1), nearest-resized to ``size`` if given."""
        from sair_toolbox.visualization import colorize_labels, zero_shot_label_map
        result.class_names = list(self.class_names)
        result.palette = self.palette
        maps = []
        for feat in (masked, field):
            labels = zero_shot_label_map(feat, class_embeddings)[0].cpu().numpy()
            if size is not None and labels.shape != tuple(size):
                from sair_toolbox.datasets.image_io import resize_nearest
                labels = resize_nearest(labels, size)
            maps.append(labels)
        result.labels_masked, result.labels_sir = maps
        result.colors_masked = colorize_labels(result.labels_masked, self.palette)
        result.colors_sir = colorize_labels(result.labels_sir, self.palette)

    def _region_tensors(self, rgb: np.ndarray, hole: np.ndarray, box, size):
        """A region of the photo at the model's size, as (1, 3, h, w) and (1, 1, h, w) tensors
        on the device (:func:`~.strategies.downscale`)."""
        from .strategies import downscale
        y0, y1, x0, x1 = box
        img, small = downscale(rgb[y0:y1, x0:x1], hole[y0:y1, x0:x1], size)
        img = torch.from_numpy(img).permute(2, 0, 1)[None].to(self.device)
        return img, torch.from_numpy(small)[None, None].to(self.device)

    def _inpaint_regions(self, rgb: np.ndarray, hole: np.ndarray, plan: Plan,
                         steer: Optional[Tuple[torch.Tensor, dict]], labels: bool,
                         render: str) -> InpaintResult:
        """``resize``/``crop``: each region at the model's size, its hole rendered at the
        photo's pixel grid (or upsampled, ``render='bicubic'``) and written into a copy of the
        photo; the other pixels are the input's (:mod:`~.strategies`)."""
        from sair_toolbox.models.field_edits import FieldSteering
        from sair_toolbox.utils.precision import autocast

        from .strategies import photo_queries, to_uint8, upsample_bicubic
        model = self.model
        out = rgb.copy()
        for box, size in zip(plan.boxes, plan.sizes):
            y0, y1, x0, x1 = box
            ys, xs = np.nonzero(hole[y0:y1, x0:x1] > 0)
            if not len(ys):
                continue
            img, mask = self._region_tensors(rgb, hole, box, size)
            edit = FieldSteering(steer[0], mask, **steer[1]) if steer is not None else None
            with autocast(self.precision, self.device):
                if render == 'bicubic':
                    fill = model.inpaint(img, mask, field_edit=edit)[0].float()
                    fill = upsample_bicubic(fill.permute(1, 2, 0).cpu().numpy(),
                                            (y1 - y0, x1 - x0))
                    values = fill[ys, xs]
                else:
                    rep = model.encode(img, mask, edit, region=mask > 0)
                    coord, cell = photo_queries(y0 + ys, x0 + xs, box)
                    coord = torch.from_numpy(coord)[None].to(self.device)
                    cell = torch.from_numpy(cell).view(1, 1, 2).expand_as(coord).to(self.device)
                    values = model.render_at(rep, coord, cell)[0].cpu().numpy()
                    del rep
            out[y0 + ys, x0 + xs] = to_uint8(values)
        result = InpaintResult(output=out, masked=_masked(rgb, hole), mask=hole)
        class_embeddings = self.class_embeddings if labels else None
        if class_embeddings is not None:
            self._resized_labels(result, rgb, hole, steer, class_embeddings)
        return result

    def _resized_labels(self, result: InpaintResult, rgb: np.ndarray, hole: np.ndarray,
                        steer, class_embeddings: torch.Tensor) -> None:
        """The label maps of a ``resize``/``crop`` request: the photo resized to the working
        size (one more encode there), shown at the photo's size."""
        from sair_toolbox.models.field_edits import FieldSteering
        from sair_toolbox.utils.precision import autocast
        h, w = rgb.shape[:2]
        size = self.plan((h, w), (h, w), None, 'resize').sizes[0]
        img, mask = self._region_tensors(rgb, hole, (0, h, 0, w), size)
        captured = {}

        def capture(f):
            captured['field'] = f
            return f

        edits = [FieldSteering(steer[0], mask, **steer[1])] if steer is not None else []
        with autocast(self.precision, self.device):
            self.model.encode(img, mask, _compose(edits + [capture]))
            masked = self.model.semantic_features(img, mask, use_sir=False)
        self._set_labels(result, masked, captured['field'], class_embeddings, (h, w))
