"""The plain form of the implicit heads' computation: Eq. 1 (and Eq. 4 / 5) of the paper, as code.

:func:`liif_query` is LIIF's ``query_rgb`` (yinboc/liif, ``models/liif.py``) and :func:`lte_query`
is LTE's ``gen_feat`` + ``query_rgb`` (jaewon-lee-b/lte, ``models/lte.py``), transcribed with no
shortcut: ``grid_sample(mode='nearest')`` for every neighbour, ``F.unfold`` of the whole grid, the
full input vector and the full MLP per neighbour, the blend after the last layer. They take the
parameters of a :class:`~.liif_head.LIIFHead` / :class:`~.lte_head.LTEHead`, so the fast path of
those heads (``base.ProjectedImplicitHead._decode``) is checked against the very same weights
(``tests/test_models/test_implicit_heads``) and timed against them (``tools/benchmark.py``).

The local implicit function (paper Eq. 1)::

    c_p = sum_{q in N_p} w_q * f_theta(z_q, dist(p, q))

* ``p``: a continuous query coordinate ``(y, x)`` in ``[-1, 1]``; ``N_p``: the 4 grid cells
  around ``p`` (the cell that ``p`` shifted by ``(+-1/h, +-1/w) + 1e-6`` falls in), or the one
  nearest cell without ``local_ensemble``.
* ``z_q``: the grid's feature at cell ``q`` (its 3x3 neighbourhood, ``9 C`` values, with
  ``feat_unfold``); ``dist(p, q) = (p - x_q) * (h, w)``, the offset from the cell's centre
  ``x_q`` in cell units, followed by the query's cell size ``cell * (h, w)`` with
  ``cell_decode``.
* ``w_q = S_q' / sum_k S_k``: ``S_k = |dy_k * dx_k| + 1e-9`` is the area of the rectangle between
  ``p`` and the centre of neighbour ``k``, and ``q'`` is the neighbour diagonally opposite ``q``
  (the nearer the cell, the larger its weight).
* ``f_theta``: the head's MLP (paper: four ``Linear`` layers with ReLU, hidden width 256).

SIR (Eq. 4) is this function over the grid ``[Z_sem, M]`` (``z_q = [z^sem_q, M[q]]``); AIR
(Eq. 5) is it over ``[Z_app, SIR(I, M, .)]``, the appearance features concatenated with the dense
SIR field at the same pixels::

    c_p = sum_{q in N_p} w_q * f_beta([z^app_q, SIR(I, M, q)], dist(p, q))

LTE (Lee & Jin, CVPR 2022) replaces ``f_theta(z_q, dist)`` by a local texture estimator: with the
amplitude ``A = coef(Z)``, the frequencies ``F = freq(Z)`` (two 3x3 convolutions of the grid, each
``D`` channels read at cell ``q``, ``F`` as ``D / 2`` pairs ``(F_y, F_x)``) and the phase
``P(cell) = Linear(cell * (h, w))`` (``D / 2`` values, no bias)::

    x_q    = F_q,y * dist_y(p, q) + F_q,x * dist_x(p, q) + P(cell)          (D / 2 values)
    c_p    = sum_{q in N_p} w_q * MLP(A_q * [cos(pi x_q), sin(pi x_q)]) + skip(p)

where ``skip(p)`` is the bilinear sample of the low-resolution input at ``p`` (border padding;
``global_skip``).

``chunk`` evaluates the queries in slices (as LIIF's ``batched_predict`` does) so that memory stays
bounded on big inputs; it does not change the result.
"""
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .coords import make_coord


def _feat_coord(feat: Tensor) -> Tensor:
    return make_coord(feat.shape[-2:], flatten=False, device=feat.device, dtype=feat.dtype) \
        .permute(2, 0, 1).unsqueeze(0).expand(feat.shape[0], 2, *feat.shape[-2:])


def _chunked(fn, coord: Tensor, cell: Optional[Tensor], chunk: Optional[int]) -> Tensor:
    if chunk is None or coord.shape[1] <= chunk:
        return fn(coord, cell)
    outs = []
    for s in range(0, coord.shape[1], chunk):
        outs.append(fn(coord[:, s:s + chunk], None if cell is None else cell[:, s:s + chunk]))
    return torch.cat(outs, dim=1)


def _global_skip(skip: Tensor, coord: Tensor) -> Tensor:
    return F.grid_sample(skip, coord.flip(-1).unsqueeze(1), mode='bilinear',
                         padding_mode='border', align_corners=False)[:, :, 0, :] \
        .permute(0, 2, 1)


def liif_query(head, feat: Tensor, coord: Tensor, cell: Optional[Tensor] = None,
               skip: Optional[Tensor] = None, chunk: Optional[int] = None) -> Tensor:
    """Eq. 1 as LIIF's official ``query_rgb``, with the MLP and switches of ``head``.

    Args:
        head: a :class:`~.liif_head.LIIFHead` (its ``mlp``, ``feat_unfold``, ``local_ensemble``,
            ``cell_decode``, ``global_skip``).
        feat: (B, C, h, w) feature grid ``Z``.
        coord: (B, Q, 2) queries ``p``, ``(y, x)`` in ``[-1, 1]``.
        cell: (B, Q, 2) query cell sizes ``(2 / H, 2 / W)``; needed with ``cell_decode``.
        skip: (B, out_channels, h', w') added by bilinear sampling with ``global_skip``.
        chunk: queries per slice (memory only), ``None`` for all at once.

    Returns:
        (B, Q, out_channels) ``c_p``.
    """
    imnet = head.mlp
    feat_coord = _feat_coord(feat)
    if head.feat_unfold:
        feat = F.unfold(feat, 3, padding=1).view(
            feat.shape[0], feat.shape[1] * 9, feat.shape[2], feat.shape[3])

    def query(coord, cell):
        if head.local_ensemble:
            vx_lst = [-1, 1]
            vy_lst = [-1, 1]
            eps_shift = 1e-6
        else:
            vx_lst, vy_lst, eps_shift = [0], [0], 0

        # field radius (global: [-1, 1])
        rx = 2 / feat.shape[-2] / 2
        ry = 2 / feat.shape[-1] / 2

        preds = []
        areas = []
        for vx in vx_lst:
            for vy in vy_lst:
                coord_ = coord.clone()
                coord_[:, :, 0] += vx * rx + eps_shift
                coord_[:, :, 1] += vy * ry + eps_shift
                coord_.clamp_(-1 + 1e-6, 1 - 1e-6)
                q_feat = F.grid_sample(
                    feat, coord_.flip(-1).unsqueeze(1),
                    mode='nearest', align_corners=False)[:, :, 0, :] \
                    .permute(0, 2, 1)
                q_coord = F.grid_sample(
                    feat_coord, coord_.flip(-1).unsqueeze(1),
                    mode='nearest', align_corners=False)[:, :, 0, :] \
                    .permute(0, 2, 1)
                rel_coord = coord - q_coord
                rel_coord[:, :, 0] *= feat.shape[-2]
                rel_coord[:, :, 1] *= feat.shape[-1]
                inp = torch.cat([q_feat, rel_coord], dim=-1)

                if head.cell_decode:
                    rel_cell = cell.clone()
                    rel_cell[:, :, 0] *= feat.shape[-2]
                    rel_cell[:, :, 1] *= feat.shape[-1]
                    inp = torch.cat([inp, rel_cell], dim=-1)

                bs, q = coord.shape[:2]
                pred = imnet(inp.view(bs * q, -1)).view(bs, q, -1)
                preds.append(pred)

                area = torch.abs(rel_coord[:, :, 0] * rel_coord[:, :, 1])
                areas.append(area + 1e-9)

        tot_area = torch.stack(areas).sum(dim=0)
        if head.local_ensemble:
            t = areas[0]
            areas[0] = areas[3]
            areas[3] = t
            t = areas[1]
            areas[1] = areas[2]
            areas[2] = t
        ret = 0
        for pred, area in zip(preds, areas):
            ret = ret + pred * (area / tot_area).unsqueeze(-1)
        if head.global_skip:
            ret = ret + _global_skip(skip, coord)
        return ret

    return _chunked(query, coord, cell, chunk)


def lte_query(head, feat: Tensor, coord: Tensor, cell: Tensor, skip: Optional[Tensor] = None,
              chunk: Optional[int] = None) -> Tensor:
    """LTE's official ``gen_feat`` + ``query_rgb`` (see the module docstring), with the modules
    and switches of ``head``.

    Args:
        head: an :class:`~.lte_head.LTEHead` (its ``coef``, ``freq``, ``phase``, ``mlp``,
            ``local_ensemble``, ``global_skip``).
        feat: (B, C, h, w) feature grid ``Z``.
        coord: (B, Q, 2) queries ``p``, ``(y, x)`` in ``[-1, 1]``.
        cell: (B, Q, 2) query cell sizes ``(2 / H, 2 / W)``.
        skip: (B, out_channels, h', w'), LTE's ``self.inp`` (the low-resolution input image),
            sampled bilinearly with ``global_skip``.
        chunk: queries per slice (memory only), ``None`` for all at once.

    Returns:
        (B, Q, out_channels).
    """
    coef = head.coef(feat)
    freq = head.freq(feat)
    feat_coord = _feat_coord(feat)

    def query(coord, cell):
        if head.local_ensemble:
            vx_lst = [-1, 1]
            vy_lst = [-1, 1]
            eps_shift = 1e-6
        else:
            vx_lst, vy_lst, eps_shift = [0], [0], 0

        # field radius (global: [-1, 1])
        rx = 2 / feat.shape[-2] / 2
        ry = 2 / feat.shape[-1] / 2

        preds = []
        areas = []
        for vx in vx_lst:
            for vy in vy_lst:
                # prepare coefficient & frequency
                coord_ = coord.clone()
                coord_[:, :, 0] += vx * rx + eps_shift
                coord_[:, :, 1] += vy * ry + eps_shift
                coord_.clamp_(-1 + 1e-6, 1 - 1e-6)
                q_coef = F.grid_sample(
                    coef, coord_.flip(-1).unsqueeze(1),
                    mode='nearest', align_corners=False)[:, :, 0, :] \
                    .permute(0, 2, 1)
                q_freq = F.grid_sample(
                    freq, coord_.flip(-1).unsqueeze(1),
                    mode='nearest', align_corners=False)[:, :, 0, :] \
                    .permute(0, 2, 1)
                q_coord = F.grid_sample(
                    feat_coord, coord_.flip(-1).unsqueeze(1),
                    mode='nearest', align_corners=False)[:, :, 0, :] \
                    .permute(0, 2, 1)
                rel_coord = coord - q_coord
                rel_coord[:, :, 0] *= feat.shape[-2]
                rel_coord[:, :, 1] *= feat.shape[-1]

                # prepare cell
                rel_cell = cell.clone()
                rel_cell[:, :, 0] *= feat.shape[-2]
                rel_cell[:, :, 1] *= feat.shape[-1]

                # basis generation
                bs, q = coord.shape[:2]
                q_freq = torch.stack(torch.split(q_freq, 2, dim=-1), dim=-1)
                q_freq = torch.mul(q_freq, rel_coord.unsqueeze(-1))
                q_freq = torch.sum(q_freq, dim=-2)
                q_freq += head.phase(rel_cell.view((bs * q, -1))).view(bs, q, -1)
                q_freq = torch.cat((torch.cos(np.pi * q_freq), torch.sin(np.pi * q_freq)), dim=-1)

                inp = torch.mul(q_coef, q_freq)

                pred = head.mlp(inp.contiguous().view(bs * q, -1)).view(bs, q, -1)
                preds.append(pred)

                area = torch.abs(rel_coord[:, :, 0] * rel_coord[:, :, 1])
                areas.append(area + 1e-9)

        tot_area = torch.stack(areas).sum(dim=0)
        if head.local_ensemble:
            t = areas[0]
            areas[0] = areas[3]
            areas[3] = t
            t = areas[1]
            areas[1] = areas[2]
            areas[2] = t
        ret = 0
        for pred, area in zip(preds, areas):
            ret = ret + pred * (area / tot_area).unsqueeze(-1)

        if head.global_skip:
            ret = ret + _global_skip(skip, coord)
        return ret

    return _chunked(query, coord, cell, chunk)
