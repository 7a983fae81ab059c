"""Local-ensemble machinery shared by :class:`LIIFHead` and :class:`LTEHead`.

Both heads follow the official LIIF ``query_rgb``: each query ``p`` is shifted by half a grid cell
(plus ``1e-6``) towards its four surrounding cells, each shifted point picks the cell that
``F.grid_sample(mode='nearest')`` would pick, the relative coordinate ``(p - centre) * (h, w)`` is
decoded per neighbour, and the four predictions are blended with the area of the rectangle
spanned by ``p`` and the *diagonally opposite* neighbour, normalised by the total area.

This module computes the same quantities without ``grid_sample``:

* :func:`find_neighbours` computes the nearest cell arithmetically with the very float32 formula of
  PyTorch's CPU ``grid_sample`` kernel, so indices, relative coordinates and weights are bitwise
  those of the reference; the heads then *gather* per-cell tables by integer index.
* :func:`blend_hidden` blends the last hidden activations of the neighbours (the last layer is
  linear and the weights sum to 1, so blending before it is exact algebra) and skips neighbours
  whose weight is negligible (``<= prune_eps``). For queries at the pixel centres of the feature
  grid (scale 1, the inpainting case) three of the four weights are ``2.5e-10``: the ensemble
  collapses to one MLP evaluation per query; the dropped contribution is below float32 precision.
* :func:`chunked_query` runs the per-query work in chunks of bounded size, optionally under
  activation checkpointing, and lays chunks out so that the backward pass of the gathers only
  touches the part of the table that a chunk reads. Inference memory is bounded at any number of
  queries; training memory grows with the stored activations unless ``use_checkpoint`` is set.
* :func:`linear` runs the MLP layers on oneDNN's fused ``linear + ReLU`` kernel on CPU (about 2x
  MKL's sgemm on this AMD machine in float32, also the fastest bfloat16 kernel measured), with an
  exact GEMM backward, falling back to ``F.linear``.

Precision under ``torch.autocast`` (bfloat16 / float16): query coordinates, cells, neighbour
indices, relative coordinates and area weights are computed in float32 (:func:`coord_dtype`);
the per-cell tables and the MLP layers run in the autocast dtype; :func:`blend_hidden` blends in
float32 (low-precision activations times float32 weights) and the global skip is sampled in
float32.
"""
import functools
from typing import Callable, List, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from .coords import make_coord

#: Shift that moves a query lying exactly on a cell boundary into one cell (official value).
EPS_SHIFT = 1e-6
#: Shifted queries are clamped to ``[-1 + CLAMP_EPS, 1 - CLAMP_EPS]`` (official value).
CLAMP_EPS = 1e-6
#: Added to every area so that the normalisation never divides by zero (official value).
AREA_EPS = 1e-9
#: Rows evaluated for the surviving neighbours are padded to a multiple of this (see blend_hidden).
ROW_BUCKET = 512
#: Default queries per chunk on CPU: activations of 4 x 4096 x 256 floats (16 MiB) per layer stay
#: below glibc's largest mmap threshold (32 MiB), so freed blocks are reused even with the
#: default allocator (bigger chunks were 15-25 % slower then); with ``tune_cpu_allocator``
#: chunks of 2048-16384 queries measured the same.
CPU_CHUNK = 4096
#: Default queries per chunk on accelerators (fewer, larger kernel launches).
DEVICE_CHUNK = 65536


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


def rows_of(term: Tensor, query: Optional[Tensor], k_num: int) -> Tensor:
    """Per-row copy of a per-query tensor (N, F), rows laid out as :data:`HiddenFn` says."""
    if query is None:
        return term.repeat(k_num, 1) if k_num > 1 else term
    return term.index_select(0, query)


def add_query_term_(pre: Tensor, term: Tensor, query: Optional[Tensor]) -> Tensor:
    """Add a per-query term (N, D) in place to per-row values (M, D), laid out as in HiddenFn."""
    if query is None:
        pre.view(-1, term.shape[0], pre.shape[-1]).add_(term)
        return pre
    return pre.add_(term.index_select(0, query))


#: chunk_fn(table (rows, D), coord (N, 2), cell (N, 2) or None, offset (N,) or None) -> (N, out)
ChunkFn = Callable[[Tensor, Tensor, Optional[Tensor], Optional[Tensor]], Tensor]


def default_chunk_size(device: torch.device) -> int:
    """:data:`CPU_CHUNK` on CPU, :data:`DEVICE_CHUNK` elsewhere."""
    return CPU_CHUNK if torch.device(device).type == 'cpu' else DEVICE_CHUNK


def chunked_query(chunk_fn: ChunkFn, table: Tensor, coord: Tensor, cell: Optional[Tensor],
                  chunk_size: Optional[int] = None, use_checkpoint: bool = False) -> Tensor:
    """Evaluate ``chunk_fn`` over the queries in chunks of at most ``chunk_size`` queries.

    A chunk never mixes a part of one batch element with another: either several whole batch
    elements (when ``Q`` is small) or a slice of the queries of one element. Each chunk reads its
    own split of ``table``, so the backward pass of a gather only allocates that split.

    Args:
        chunk_fn: per-chunk evaluation; ``offset`` gives each query's first row in the table
            split (``None`` when the split holds one batch element).
        table: (B, L, D) per-cell table (``L = h * w``).
        coord: (B, Q, 2) query coordinates.
        cell: (B, Q, 2) query cells or ``None``.
        chunk_size: maximum number of queries per chunk; ``None`` for
            :func:`default_chunk_size` of the table's device.
        use_checkpoint: recompute each chunk in the backward pass instead of storing its
            activations (bounded training memory at any number of queries).

    Returns:
        (B, Q, out) concatenated results.
    """
    b, q = coord.shape[:2]
    rows = table.shape[1]
    if chunk_size is None:
        chunk_size = default_chunk_size(table.device)
    chunk_size = max(1, int(chunk_size))
    per_group = max(1, min(b, chunk_size // max(q, 1)))
    step = q if per_group > 1 else min(q, chunk_size)
    ckpt = use_checkpoint and torch.is_grad_enabled() and table.requires_grad

    def run(*args):
        if ckpt:
            return checkpoint(chunk_fn, *args, use_reentrant=False)
        return chunk_fn(*args)

    def chunks():
        """Yield ``(first batch element, count, first query, end query, result)`` in order."""
        splits = table.reshape(b * rows, table.shape[-1]).split(per_group * rows)
        for g, split in enumerate(splits):
            b0 = g * per_group
            nb = split.shape[0] // rows
            c = coord[b0:b0 + nb]
            ce = cell[b0:b0 + nb] if cell is not None else None
            if nb > 1:
                offset = torch.arange(nb, device=coord.device).repeat_interleave(q) * rows
                yield b0, nb, 0, q, run(split, c.reshape(nb * q, 2),
                                        None if ce is None else ce.reshape(nb * q, 2), offset)
                continue
            for s in range(0, q, step):
                yield b0, 1, s, min(q, s + step), run(
                    split, c[0, s:s + step], None if ce is None else ce[0, s:s + step], None)

    if not (torch.is_grad_enabled() and table.requires_grad):
        # Inference: write into one preallocated output, so that no small per-chunk results sit
        # between the (variable-size) temporaries of later chunks and fragment the heap.
        out = None
        for b0, nb, s, e, res in chunks():
            if out is None:
                out = res.new_empty(b, q, res.shape[-1])
            out[b0:b0 + nb, s:e] = res.view(nb, e - s, -1)
        return out
    groups: List[Tensor] = []
    pending: List[Tensor] = []
    for _, nb, _, e, res in chunks():
        if nb > 1:
            groups.append(res.view(nb, q, -1))
            continue
        pending.append(res)
        if e == q:
            groups.append(torch.cat(pending, dim=0).unsqueeze(0))
            pending = []
    return torch.cat(groups, dim=0)


def sample_skip(skip: Tensor, coord: Tensor) -> Tensor:
    """Bilinear sample of ``skip`` (B, C, h', w') at ``coord`` (B, Q, 2), border padding.

    Returns:
        (B, Q, C), the global skip of LTE (and LIIF with ``global_skip``).
    """
    # Under autocast grid_sample runs in float32 (the skip is not rounded to bfloat16).
    out = F.grid_sample(skip, coord.flip(-1).unsqueeze(1).to(skip.dtype), mode='bilinear',
                        padding_mode='border', align_corners=False)
    return out[:, :, 0, :].permute(0, 2, 1)


def build_mlp(in_channels: int, hidden_channels, out_channels: int) -> torch.nn.Sequential:
    """LIIF's MLP: ``Linear, ReLU`` per hidden width, then a last ``Linear`` (plain modules)."""
    layers = []
    last = in_channels
    for width in hidden_channels:
        layers += [torch.nn.Linear(last, width), torch.nn.ReLU(inplace=True)]
        last = width
    layers.append(torch.nn.Linear(last, out_channels))
    return torch.nn.Sequential(*layers)


#: dtypes for which :func:`linear` may use oneDNN's kernel (when the probe agrees).
MKLDNN_DTYPES = (torch.float32, torch.bfloat16)


@functools.lru_cache(maxsize=None)
def mkldnn_linear_available(dtype: torch.dtype = torch.float32) -> bool:
    """Whether oneDNN's fused ``linear (+ ReLU)`` CPU kernel works in ``dtype`` here.

    ``torch.ops.mkldnn._linear_pointwise`` is the kernel PyTorch's compiler uses for CPU linear
    layers. Measured on this project's 2-core AVX512-BF16 machine (``M x 256 @ 256 x 256``, ReLU):
    float32 about 2x ``F.linear`` (MKL sgemm); bfloat16 1.3-2x ``F.linear`` and ``addmm`` in
    bfloat16 and 3-10x ``F.linear`` under autocast (which recasts the float32 weight per call).
    float16 has no oneDNN kernel on CPUs without AVX512-FP16 and stays on ``F.linear``.
    Probed once per dtype on a tiny input against ``F.linear`` in float32; any failure falls back.
    """
    if dtype not in MKLDNN_DTYPES:
        return False
    try:
        if dtype == torch.bfloat16 and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False
        # The first call usually comes from a forward under autocast: probe outside it.
        with torch.autocast('cpu', enabled=False):
            return _probe_mkldnn_linear(dtype)
    except Exception:  # noqa: BLE001 - any missing op / build difference means "not available"
        return False


def _probe_mkldnn_linear(dtype: torch.dtype) -> bool:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 8, generator=gen).to(dtype)
    w = torch.randn(16, 8, generator=gen).to(dtype)
    b = torch.randn(16, generator=gen).to(dtype)
    y = torch.ops.mkldnn._linear_pointwise(x, w, b, 'relu', [], '')
    expected = torch.relu(F.linear(x.float(), w.float(), b.float()))
    tol = 1e-5 if dtype == torch.float32 else 0.1
    return y.dtype == dtype and bool(torch.allclose(y.float(), expected, atol=tol, rtol=tol))


class _MkldnnLinear(torch.autograd.Function):
    """oneDNN forward (optionally fused ReLU) with the usual GEMM backward."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor], relu: bool) -> Tensor:
        out = torch.ops.mkldnn._linear_pointwise(x, weight, bias, 'relu' if relu else 'none',
                                                 [], '')
        ctx.relu = relu
        ctx.has_bias = bias is not None
        ctx.save_for_backward(x, weight, out if relu else None)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight, out = ctx.saved_tensors
        if ctx.relu:  # ReLU's own backward kernel: one pass, no boolean mask tensor
            grad = torch.ops.aten.threshold_backward(grad, out, 0)
        gx = grad.mm(weight) if ctx.needs_input_grad[0] else None
        gw = grad.t().mm(x) if ctx.needs_input_grad[1] else None
        gb = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return gx, gw, gb, None


def autocast_dtype(device_type: str) -> Optional[torch.dtype]:
    """The dtype that ``torch.autocast`` casts matmuls to on ``device_type``, or None when off."""
    if not torch.is_autocast_enabled(device_type):
        return None
    return torch.get_autocast_dtype(device_type)


def linear(x: Tensor, layer: torch.nn.Linear, relu: bool = False) -> Tensor:
    """``layer(x)`` (then ReLU when ``relu``) for 2-D ``x``, with oneDNN's kernel on CPU.

    Same function and gradients as ``F.linear`` (+ ``relu``), up to float rounding, also under
    ``torch.autocast``: there ``x``, the weight and the bias are cast to the autocast dtype first,
    as autocast does for ``F.linear`` (gradients flow back to the float32 parameters), and the
    result is in that dtype. oneDNN runs float32 and bfloat16 (see :func:`mkldnn_linear_available`);
    float16 and narrow outputs (< 16 features, faster on ``F.linear``) use ``F.linear``.
    """
    weight, bias = layer.weight, layer.bias
    dtype = autocast_dtype(x.device.type)
    if dtype is not None:
        x, weight = x.to(dtype), weight.to(dtype)
        bias = bias.to(dtype) if bias is not None else None
    if (x.device.type == 'cpu' and x.dtype == weight.dtype and weight.shape[0] >= 16
            and torch.backends.mkldnn.enabled and mkldnn_linear_available(x.dtype)):
        needs_grad = torch.is_grad_enabled() and (
            x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad))
        if needs_grad:
            return _MkldnnLinear.apply(x, weight, bias, relu)
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, 'relu' if relu else 'none',
                                                  [], '')
    out = F.linear(x, weight, bias)
    return torch.relu_(out) if relu else out


def apply_middle_layers(mlp: torch.nn.Sequential, hidden: Tensor) -> Tensor:
    """Apply the layers between the first ``Linear, ReLU`` and the last ``Linear`` of ``mlp``.

    Args:
        mlp: built by :func:`build_mlp` with at least one hidden width.
        hidden: (M, D) activations after the first ``ReLU``.

    Returns:
        (M, D') the last hidden activations (input of ``mlp[-1]``).
    """
    for layer in list(mlp)[2:-1:2]:
        hidden = linear(hidden, layer, relu=True)
    return hidden
