"""The local ensemble of Eq. 1: each query's neighbour cells, their weights, and the blend.

Both heads follow the official LIIF ``query_rgb`` (written out plainly in :mod:`.reference`):
each query ``p`` is shifted by half a grid cell (plus ``1e-6``) towards its four surrounding
cells, each shifted point picks the cell that ``F.grid_sample(mode='nearest')`` would pick, the
relative coordinate ``(p - centre) * (h, w)`` is decoded per neighbour, and the four predictions
are blended with the area of the rectangle spanned by ``p`` and the *diagonally opposite*
neighbour, normalised by the total area.

This module computes the same quantities without ``grid_sample``:

* :func:`find_neighbours` computes the nearest cell arithmetically with the very float32 formula of
  PyTorch's CPU ``grid_sample`` kernel, so indices, relative coordinates and weights are bitwise
  those of the reference; the heads then *gather* per-cell tables by integer index.
* :func:`blend_hidden` blends the last hidden activations of the neighbours (the last layer is
  linear and the weights sum to 1, so blending before it is exact algebra) and skips neighbours
  whose weight is negligible (``<= prune_eps``). For queries at the pixel centres of the feature
  grid (scale 1, the inpainting case) three of the four weights are ``2.5e-10``: the ensemble
  collapses to one MLP evaluation per query; the dropped contribution is below float32 precision.

Precision under ``torch.autocast`` (bfloat16 / float16): query coordinates, cells, neighbour
indices, relative coordinates and area weights are computed in float32 (:func:`coord_dtype`);
:func:`blend_hidden` blends in float32 (low-precision activations times float32 weights).
"""
from typing import Callable, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .coords import make_coord

#: Shift that moves a query lying exactly on a cell boundary into one cell (official value).
EPS_SHIFT = 1e-6
#: Shifted queries are clamped to ``[-1 + CLAMP_EPS, 1 - CLAMP_EPS]`` (official value).
CLAMP_EPS = 1e-6
#: Added to every area so that the normalisation never divides by zero (official value).
AREA_EPS = 1e-9
#: Rows evaluated for the surviving neighbours are padded to a multiple of this (see blend_hidden).
ROW_BUCKET = 512


def coord_dtype(feat: Tensor) -> torch.dtype:
    """dtype of coordinates and ensemble weights for a feature grid: float32, or float64 for a
    float64 grid (never a low-precision dtype: bfloat16 cannot even tell the pixel centres of a
    256-pixel axis apart)."""
    return torch.promote_types(feat.dtype, torch.float32)


class Neighbours(NamedTuple):
    """The ``K`` neighbours (4 with local ensemble, else 1) of ``N`` queries.

    Attributes:
        index: (K, N) long, flat row ``offset + y * w + x`` of the neighbour's cell in the table.
        rel_coord: (K, N, 2) ``(query - cell centre) * (h, w)``, ``(y, x)`` order.
        weight: (K, N) area weights (after the diagonal swap, summing to 1 over ``K``), or
            ``None`` when ``K == 1``.
    """

    index: Tensor
    rel_coord: Tensor
    weight: Optional[Tensor]


def nearest_cell(coord: Tensor, size: int) -> Tensor:
    """Index of the cell that ``F.grid_sample(mode='nearest', align_corners=False)`` picks.

    Uses the float32 arithmetic of PyTorch's CPU kernel, ``round((x + 1) * (size / 2) - 0.5)`` with
    round-half-to-even, so the result is bitwise that of ``grid_sample`` on CPU (CUDA's kernel
    rounds ``((x + 1) * size - 1) / 2`` and can differ only for points within float rounding of a
    cell boundary, which the official ``eps_shift`` keeps queries away from).

    Args:
        coord: (...) float coordinates along one axis, in ``[-1, 1]``.
        size: number of cells along that axis.

    Returns:
        (...) long indices in ``[0, size - 1]``.
    """
    idx = torch.round((coord + 1) * (size / 2) - 0.5)
    return idx.clamp_(0, size - 1).long()


def find_neighbours(coord: Tensor, grid_size: Tuple[int, int], local_ensemble: bool = True,
                    offset: Optional[Tensor] = None) -> Neighbours:
    """Neighbour cells, relative coordinates and ensemble weights of queries.

    Args:
        coord: (N, 2) query coordinates ``(y, x)`` in ``[-1, 1]``.
        grid_size: ``(h, w)`` of the feature grid.
        local_ensemble: four shifted neighbours with area weights, or the single nearest cell.
        offset: (N,) long added to every flat index (row of the query's batch element in a table
            that stacks several elements), or ``None``.

    Returns:
        :class:`Neighbours` with ``K = 4`` (order ``(vy, vx)`` in ``(-1,-1), (-1,1), (1,-1),
        (1,1)``, as the official loops) or ``K = 1``.
    """
    h, w = grid_size
    if local_ensemble:
        shifts, eps = (-1, 1), EPS_SHIFT
    else:
        shifts, eps = (0,), 0.0
    # Same scalars and float32 operations as the official code, hence the same cells.
    ry, rx = 2 / h / 2, 2 / w / 2
    offsets = [[vy * ry + eps, vx * rx + eps] for vy in shifts for vx in shifts]
    offsets = torch.tensor(offsets, dtype=coord.dtype, device=coord.device)
    shifted = (coord.unsqueeze(0) + offsets.unsqueeze(1)).clamp_(-1 + CLAMP_EPS, 1 - CLAMP_EPS)
    iy = nearest_cell(shifted[..., 0], h)
    ix = nearest_cell(shifted[..., 1], w)
    centres_y = make_coord((h, ), device=coord.device, dtype=coord.dtype).view(-1)
    centres_x = make_coord((w, ), device=coord.device, dtype=coord.dtype).view(-1)
    centre = torch.stack([centres_y[iy], centres_x[ix]], dim=-1)
    scale = torch.tensor([h, w], dtype=coord.dtype, device=coord.device)
    rel = (coord.unsqueeze(0) - centre) * scale
    index = iy * w + ix
    if offset is not None:
        index = index + offset
    if not local_ensemble:
        return Neighbours(index, rel, None)
    area = (rel[..., 0] * rel[..., 1]).abs() + AREA_EPS
    # Diagonal swap (0 <-> 3, 1 <-> 2) is a reversal of the four neighbours.
    weight = area.flip(0) / area.sum(dim=0)
    return Neighbours(index, rel, weight)


#: hidden_fn(index (M,), rel_coord (M, 2), query (M,) or None) -> last hidden activations (M, D).
#: ``query=None`` means the rows are ``K`` consecutive blocks of the ``N`` queries.
HiddenFn = Callable[[Tensor, Tensor, Optional[Tensor]], Tensor]


def blend_hidden(nbrs: Neighbours, hidden_fn: HiddenFn, prune_eps: float = 0.0) -> Tensor:
    """Area-weighted blend of the neighbours' last hidden activations.

    Since the last layer ``L`` is affine and the weights sum to 1,
    ``sum_k w_k L(h_k) = L(sum_k w_k h_k)``: the heads apply ``L`` once to this blend.

    Args:
        nbrs: neighbours of ``N`` queries.
        hidden_fn: evaluates the MLP up to its last hidden activation for a set of rows.
        prune_eps: neighbours with weight ``<= prune_eps`` are skipped; the skipped contribution
            is at most ``3 * prune_eps`` times the size of an activation (use 0 to keep all).

    Returns:
        (N, D) blended activations.
    """
    if nbrs.weight is None:
        return hidden_fn(nbrs.index[0], nbrs.rel_coord[0], None)
    k_num, n = nbrs.index.shape
    keep = nbrs.weight > prune_eps
    if bool(keep.all()):
        hidden = hidden_fn(nbrs.index.reshape(-1), nbrs.rel_coord.reshape(-1, 2), None)
        # unbind, not indexing: the backward of K index views would zero-fill K full (K, N, D)
        # gradients and sum them; unbind's backward stacks the K parts once.
        parts = hidden.view(k_num, n, -1).unbind(0)
        weight = nbrs.weight.unsqueeze(-1)
        # Accumulating in place reads each activation once (no (K, N, D) product tensor).
        out = parts[0] * weight[0]
        for k in range(1, k_num):
            out.addcmul_(parts[k], weight[k])
        return out
    ks, qs = keep.nonzero(as_tuple=True)
    m = qs.numel()
    # Pad the row count to a multiple of ROW_BUCKET with copies of a valid row (discarded after):
    # oneDNN caches one kernel per matrix shape, and a new shape in every chunk piles them up.
    pad = (-m) % ROW_BUCKET
    index, rel, query = nbrs.index[ks, qs], nbrs.rel_coord[ks, qs], qs
    if pad:
        index, query = F.pad(index, (0, pad)), F.pad(query, (0, pad))
        rel = F.pad(rel, (0, 0, 0, pad))
    hidden = hidden_fn(index, rel, query)[:m]
    hidden = hidden * nbrs.weight[ks, qs].unsqueeze(-1)
    return hidden.new_zeros(n, hidden.shape[-1]).index_add_(0, qs, hidden)


def rows_of(term: Tensor, query: Optional[Tensor], num_rows: int) -> Tensor:
    """Per-row copy (M, F) of a per-query tensor (N, F), rows laid out as :data:`HiddenFn` says
    (``M = num_rows``)."""
    if query is None:
        k_num = num_rows // term.shape[0]
        return term.repeat(k_num, 1) if k_num > 1 else term
    return term.index_select(0, query)


def add_query_term_(pre: Tensor, term: Tensor, query: Optional[Tensor]) -> Tensor:
    """Add a per-query term (N, D) in place to per-row values (M, D), laid out as in HiddenFn."""
    if query is None:
        pre.view(-1, term.shape[0], pre.shape[-1]).add_(term)
        return pre
    return pre.add_(term.index_select(0, query))
