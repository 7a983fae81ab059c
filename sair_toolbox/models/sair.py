"""SAIR: semantic-aware implicit representation for inpainting (paper Sec. 4)."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor

from sair_toolbox.registry import (APPEARANCE_ENCODERS, IMPLICIT_HEADS, MODELS,
                                   SEMANTIC_FUSIONS)
from sair_toolbox.utils.errors import ConfigError

from .air_input import AIRInput
from .data_preprocessor import build_data_preprocessor, stack_masks
from .fusions.concat_fusion import ConcatFusion
from .implicit_heads.base import ProjectedImplicitHead
from .implicit_heads.coords import make_cell, pixel_index_to_coord, pixel_queries
from .implicit_heads.fold import folded_projection
from .sir import SemanticImplicitRepresentation
from .zero_shot import resize_features


@MODELS.register_module()
class SAIR(BaseModel):
    """Appearance implicit representation (AIR, Eq. 5) over ``[Z_app, fusion(S)]``, where ``S`` is
    the dense SIR field (Eq. 4).

    Each part is optional, so the paper's baselines and ablations are compositions:
    ``sir=None`` is LIIF/LTE (no semantics), ``sir.head=None`` is NFS (masked ``Z_sem`` resized),
    ``appearance_encoder=None`` is OUS (semantics only).

    The AIR head predicts RGB normalised to [-1, 1] (LIIF's convention); the reconstruction loss
    is L1 in that space, the semantic loss is ``alpha * |SIR(grid centres) - Z_sem(I)|_1`` at the
    encoder's ``h x w`` (Sec. 4.4).

    Args:
        air_head: implicit head config; ``in_channels`` (appearance + semantic channels) and
            ``out_channels=3`` are filled in.
        appearance_encoder: ``APPEARANCE_ENCODERS`` config or ``None`` (OUS).
        sir: :class:`SemanticImplicitRepresentation` arguments (``encoder``, ``head``,
            ``frozen``, ``init_cfg``) or ``None`` (no semantics).
        fusion: ``SEMANTIC_FUSIONS`` config applied to ``S`` before AIR; ``None`` = the paper's
            plain concatenation.
        sem_loss_weight: ``alpha`` of ``L = L1 + alpha * L2``.
        num_queries: training queries per image; ``None`` = every pixel.
        hole_query_ratio: expected fraction of the sampled queries that lie in the hole
            (``None`` = uniform over the image).
        fold_sir: compute AIR's grid projection from SIR's blended hidden activation ``h``
            instead of ``S = L(h)`` (``L`` the SIR head's last layer), folding ``L`` into AIR's
            first layer (exact algebra, :func:`~.implicit_heads.fold.folded_projection`; AIR
            reads 256 instead of 512 semantic channels and ``S`` is not built at full size).
            ``'auto'`` (default): wherever it applies -- a SIR head and an AIR head that are
            ``ProjectedImplicitHead`` s (LIIF, LTE), no global skip in the SIR head, no fusion or
            ``ConcatFusion`` -- and pays off -- SIR's last hidden width ``D`` below the field's
            ``c`` channels, else AIR would read more channels, not fewer --, else the explicit
            ``S``; ``True``: wherever it applies, whatever ``D``, and a :class:`ConfigError`
            where it does not; ``False``: always the explicit ``S``.
            A ``field_edit`` passed to :meth:`encode` always uses the explicit ``S``.
        data_preprocessor: defaults to :class:`InpaintDataPreprocessor`.

    Precision: under ``torch.autocast`` (``tools/train.py --amp``, ``tools/test.py --precision``)
    the encoders, heads and fusions run in the autocast dtype; coordinates, ensemble weights and
    both losses are float32 (predictions are cast to float32 before the L1), and the outputs of
    :meth:`render`, :meth:`predict` and :meth:`inpaint` are float32.
    """

    def __init__(self, air_head: dict, appearance_encoder: Optional[dict] = None,
                 sir: Optional[dict] = None, fusion: Optional[dict] = None,
                 sem_loss_weight: float = 1.0, num_queries: Optional[int] = None,
                 hole_query_ratio: Optional[float] = None,
                 fold_sir: Union[bool, str] = 'auto',
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        if appearance_encoder is None and sir is None:
            raise ConfigError('SAIR needs an appearance_encoder, a sir, or both')
        if hole_query_ratio is not None and not 0 <= hole_query_ratio <= 1:
            raise ConfigError(f'hole_query_ratio must be in [0, 1], got {hole_query_ratio}')
        self.appearance_encoder = (APPEARANCE_ENCODERS.build(appearance_encoder)
                                   if appearance_encoder is not None else None)
        self.sir = SemanticImplicitRepresentation(**sir) if sir is not None else None
        self.fusion = None
        air_channels = self.appearance_encoder.out_channels if self.appearance_encoder else 0
        if self.sir is not None:
            if fusion is not None:
                fusion = dict(fusion)
                fusion.setdefault('in_channels', self.sir.out_channels)
                self.fusion = SEMANTIC_FUSIONS.build(fusion)
                air_channels += self.fusion.out_channels
            else:
                air_channels += self.sir.out_channels
        air_head = dict(air_head)
        air_head.setdefault('in_channels', air_channels)
        air_head.setdefault('out_channels', 3)
        self.air_head = IMPLICIT_HEADS.build(air_head)
        self.sem_loss_weight = sem_loss_weight
        self.num_queries = num_queries
        self.hole_query_ratio = hole_query_ratio
        self.fold_sir = self._resolve_fold(fold_sir)

    def _resolve_fold(self, fold_sir: Union[bool, str]) -> bool:
        """Whether :meth:`encode` folds the SIR's last layer into AIR (see ``fold_sir``)."""
        if fold_sir not in (True, False, 'auto'):
            raise ConfigError(f"fold_sir must be True, False or 'auto', got {fold_sir!r}")
        if fold_sir is False:
            return False
        reasons = []
        if self.sir is None or self.sir.head is None:
            reasons.append('the model has no SIR head')
        elif self.sir.last_layer is None:
            reasons.append(f'SIR head {type(self.sir.head).__name__} is not a '
                           'ProjectedImplicitHead without global_skip')
        if not isinstance(self.air_head, ProjectedImplicitHead):
            reasons.append(f'AIR head {type(self.air_head).__name__} is not a '
                           'ProjectedImplicitHead')
        if self.fusion is not None and not isinstance(self.fusion, ConcatFusion):
            reasons.append(f'fusion {type(self.fusion).__name__} is not linear')
        if reasons and fold_sir is True:
            raise ConfigError(f'fold_sir=True does not apply: {"; ".join(reasons)}')
        if reasons:
            return False
        # The fold trades AIR reading the field's c channels for reading SIR's D hidden ones:
        # it only pays off when D < c (paper: 256 < 512; the demo: 128 > 64 would widen AIR).
        last = self.sir.last_layer
        return fold_sir is True or last.in_features < last.out_features

    # ------------------------------------------------------------------ representation
    def encode(self, img: Tensor, mask: Tensor,
               field_edit: Optional[Callable[[Tensor], Tensor]] = None,
               region: Optional[Tensor] = None) -> AIRInput:
        """Build the AIR feature grid of a masked batch.

        Args:
            img: (B, 3, H, W) in [0, 1] (unmasked; masked here).
            mask: (B, 1, H, W), 1 = missing.
            field_edit: optional callable applied to the dense SIR field ``S`` (B, c, H, W)
                before the fusion and AIR, returning a field of the same shape (e.g. the
                text-guided fill of :mod:`sair_toolbox.models.field_edits`). Needs a SIR.
            region: optional (B, 1, H, W) bool, the grid cells that hold every query the
                result will be asked for (e.g. the hole, :meth:`inpaint`). The SIR field (or
                its hidden field) is then evaluated only where AIR's decode of those queries
                reads it (:meth:`field_support`) and is zero elsewhere; the grid is exact
                there, so queries inside ``region`` decode to the values of the full grid.
                Ignored with a ``field_edit`` (it may read the whole field).

        Returns:
            :class:`AIRInput`: ``feat`` (B, C_air, H, W) -- or, when the SIR is folded into AIR,
            ``proj``, its grid projection (B, D, H, W), instead --, ``skip`` (B, 3, H, W) the
            masked image in [-1, 1] and ``sem_grid`` (B, c + 1, h, w) or None; its
            :meth:`~AIRInput.query` and :meth:`~AIRInput.grid` evaluate AIR.
        """
        if field_edit is not None and self.sir is None:
            raise ConfigError('field_edit needs a model with a semantic branch (sir=None here)')
        img_masked = img * (1 - mask)
        feats, sem_grid = [], None
        if self.appearance_encoder is not None:
            feats.append(self.appearance_encoder(img_masked, mask))
        skip = (img_masked * 2 - 1) * (1 - mask)
        if self.sir is not None:
            sem_grid = self.sir.encode(img_masked, mask)
            where = self.field_support(region) if field_edit is None else None
            if self.fold_sir and field_edit is None:
                hidden = self.sir.hidden_field(sem_grid, img.shape[-2:], where=where)
                parts = [(f, None) for f in feats] + [(hidden, self.sir.last_layer)]
                proj = folded_projection(self.air_head, parts)
                return AIRInput(self.air_head, skip, proj=proj, sem_grid=sem_grid)
            field = self.sir.field(sem_grid, img.shape[-2:], where=where)
            if field_edit is not None:
                field = field_edit(field)
            feats.append(self.fusion(field) if self.fusion is not None else field)
        feat = feats[0] if len(feats) == 1 else torch.cat(feats, dim=1)
        return AIRInput(self.air_head, skip, feat=feat, sem_grid=sem_grid)

    def field_support(self, region: Optional[Tensor]) -> Optional[Tensor]:
        """The grid cells whose SIR field AIR's decode reads for queries inside ``region``.

        A query's local ensemble reads the projection rows of the cells within one cell of the
        cell holding it, and a row is a ``k x k`` convolution of the grid: so the support is
        ``region`` dilated by ``1 + k // 2`` cells (2 for LIIF's 3x3 unfold). ``None`` (the
        whole field) without a region or for an AIR head that is not a
        :class:`ProjectedImplicitHead` (its reach is unknown).

        Args:
            region: (B, 1, H, W) bool or None.

        Returns:
            (B, 1, H, W) bool or None.
        """
        if region is None or not isinstance(self.air_head, ProjectedImplicitHead):
            return None
        reach = 1 + self.air_head.projection()[0].shape[-1] // 2
        grown = F.max_pool2d(region.float(), 2 * reach + 1, stride=1, padding=reach)
        return grown > 0

    def render(self, rep: AIRInput, size: Tuple[int, int]) -> Tensor:
        """Colour at every pixel centre of an ``H' x W'`` grid: (B, 3, H', W') in [0, 1]."""
        out = rep.grid(tuple(size)).float()  # a fresh tensor: in place is safe
        return out.add_(1).div_(2).clamp_(0, 1)

    def render_at(self, rep: AIRInput, coord: Tensor, cell: Tensor) -> Tensor:
        """Colour at continuous coordinates: (B, Q, 2) ``(y, x)`` in [-1, 1] and their cells
        (B, Q, 2) -> (B, Q, 3) in [0, 1], float32 like :meth:`render` (the values it gives
        there)."""
        out = rep.query(coord, cell).float()
        return out.add_(1).div_(2).clamp_(0, 1)

    def fill_hole(self, rep: AIRInput, img: Tensor, mask: Tensor) -> Tensor:
        """The composite ``I * (1 - M) + pred * M`` at the input size, with AIR queried only at
        the pixels where ``M > 0``: the known pixels are the input's, and every other value is
        bitwise that of the full render's composite (each pixel is its own query; the tests pin
        it). (B, 3, H, W) in [0, 1]."""
        b, _, h, w = img.shape
        hole = mask.reshape(b, h * w) > 0
        out = img.clone()
        if not hole.any():
            return out
        dtype = torch.promote_types(img.dtype, torch.float32)  # as grid_queries makes them
        index, coord, cell = pixel_queries(hole, (h, w), dtype)
        pred = self.render_at(rep, coord, cell).to(img.dtype).transpose(1, 2)  # (B, 3, Q)
        src = img.reshape(b, 3, h * w)
        gather = index.unsqueeze(1).expand(-1, 3, -1)
        m = mask.reshape(b, 1, h * w).expand(-1, 3, -1).gather(2, gather).to(pred)
        value = src.gather(2, gather) * (1 - m) + pred * m
        out.view(b, 3, h * w).scatter_(2, gather, value)
        return out

    # ------------------------------------------------------------------ modes
    def forward(self, inputs: Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List, Tensor]:
        """``mode='loss'``: dict of losses; ``'predict'``: data samples with ``gt_img``,
        ``pred_img``, ``output_img``; ``'tensor'``: the raw prediction (B, 3, H, W) in [0, 1];
        ``'loss_and_tensor'``: both the losses and the raw prediction from one :meth:`encode`
        (what an adversarial wrapper needs per step, :meth:`loss_and_render`)."""
        mask = stack_masks(data_samples).to(inputs)
        if mode == 'loss':
            return self.loss(inputs, mask)
        if mode == 'predict':
            return self.predict(inputs, mask, data_samples)
        if mode == 'tensor':
            return self.render(self.encode(inputs, mask), inputs.shape[-2:])
        if mode == 'loss_and_tensor':
            return self.loss_and_render(inputs, mask)
        raise ValueError(f'invalid mode {mode!r}; use loss, predict, tensor or loss_and_tensor')

    def loss_and_render(self, img: Tensor, mask: Tensor) -> Tuple[Dict[str, Tensor], Tensor]:
        """:meth:`loss` and the full raw prediction (B, 3, H, W) in [0, 1], both with gradients,
        from one :meth:`encode`: the same values (and random draws) as the separate
        ``mode='loss'`` and ``mode='tensor'`` calls, at one encoder and SIR-field pass fewer."""
        rep = self.encode(img, mask)
        return self.loss(img, mask, rep), self.render(rep, img.shape[-2:])

    def loss(self, img: Tensor, mask: Tensor, rep: Optional[AIRInput] = None
             ) -> Dict[str, Tensor]:
        """L1 reconstruction loss at the training queries + ``alpha *`` semantic loss
        (``rep``: the batch's :meth:`encode`, computed here when None)."""
        rep = self.encode(img, mask) if rep is None else rep
        target = img * 2 - 1
        size = img.shape[-2:]
        if self.num_queries is None:
            pred = rep.grid(size)
            losses = dict(loss_rec=F.l1_loss(pred.float(), target))
        else:
            index = self.sample_queries(mask)
            coord = pixel_index_to_coord(index, size).to(img)
            cell = make_cell(size, index.shape[1], img.shape[0], device=img.device,
                             dtype=img.dtype)
            pred = rep.query(coord, cell)
            gt = target.flatten(2).gather(2, index.unsqueeze(1).expand(-1, 3, -1))
            losses = dict(loss_rec=F.l1_loss(pred.float(), gt.transpose(1, 2)))
        if self.sir is not None and self.sir.trainable and self.sem_loss_weight > 0:
            losses['loss_sem'] = self.sem_loss_weight * self.sir.semantic_loss(rep.sem_grid, img)
        return losses

    def sample_queries(self, mask: Tensor) -> Tensor:
        """Flat pixel indices (B, Q) of the training queries, without replacement.

        With ``hole_query_ratio = r`` each hole pixel is drawn with probability mass ``r`` shared
        among the hole pixels and each known pixel with ``1 - r`` shared among the known ones.
        """
        b = mask.shape[0]
        n = mask[0].numel()
        q = min(self.num_queries, n)
        if self.hole_query_ratio is None:
            return torch.stack([torch.randperm(n, device=mask.device)[:q] for _ in range(b)])
        hole = mask.reshape(b, n)
        n_hole = hole.sum(1, keepdim=True)
        n_known = n - n_hole
        r = self.hole_query_ratio
        weight = torch.where(hole > 0, r / n_hole.clamp(min=1), (1 - r) / n_known.clamp(min=1))
        weight = weight + 1e-12  # every pixel stays drawable when a class is empty
        return torch.multinomial(weight, q, replacement=False)

    def predict(self, img: Tensor, mask: Tensor, data_samples: Sequence) -> List:
        """Fill the holes; returns the data samples with ``gt_img``, ``pred_img`` (raw) and
        ``output_img`` (composite ``I * (1 - M) + pred * M``), each (3, H, W) in [0, 1]."""
        pred = self.render(self.encode(img, mask), img.shape[-2:])
        output = img * (1 - mask) + pred * mask
        for i, sample in enumerate(data_samples):
            sample.gt_img = img[i]
            sample.pred_img = pred[i]
            sample.output_img = output[i]
        return list(data_samples)

    @torch.no_grad()
    def inpaint(self, img: Tensor, mask: Tensor, size: Optional[Tuple[int, int]] = None,
                field_edit: Optional[Callable[[Tensor], Tensor]] = None) -> Tensor:
        """Inpaint at any output resolution.

        Args:
            img: (B, 3, H, W) in [0, 1].
            mask: (B, 1, H, W), 1 = missing.
            size: output ``(H', W')``; default the input size.
            field_edit: see :meth:`encode`.

        Returns:
            (B, 3, H', W') in [0, 1]: the composite at the input size -- AIR renders only the
            hole's pixels there (:meth:`fill_hole`; the SIR field is evaluated only where they
            read it, :meth:`field_support`) --, the rendered continuous representation at any
            other size (known pixels are not defined there).
        """
        size = tuple(size) if size is not None else tuple(img.shape[-2:])
        if size == tuple(img.shape[-2:]):
            return self.fill_hole(self.encode(img, mask, field_edit, region=mask > 0), img,
                                  mask)
        return self.render(self.encode(img, mask, field_edit), size)

    @torch.no_grad()
    def semantic_features(self, inputs: Tensor, masks: Tensor, use_sir: bool = True,
                          size: Optional[Tuple[int, int]] = None) -> Tensor:
        """Dense semantic features of masked images (the segmentation check, paper Tab. 5).

        Args:
            inputs: (B, 3, H, W) in [0, 1].
            masks: (B, 1, H, W), 1 = missing.
            use_sir: ``True``: the SIR-completed field; ``False``: the encoder's features of the
                masked image, bilinearly resized (MaskCLIP's naive resize).
            size: output size, default ``(H, W)``.

        Returns:
            (B, c, H', W').
        """
        if self.sir is None:
            raise ConfigError('this model has no semantic branch (sir=None)')
        size = tuple(size) if size is not None else tuple(inputs.shape[-2:])
        grid = self.sir.encode(inputs * (1 - masks), masks)
        if use_sir and self.sir.head is not None:
            return self.sir.field(grid, size)
        return resize_features(grid[:, :-1], size)
