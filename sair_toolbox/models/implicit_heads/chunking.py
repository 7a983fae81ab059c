"""Evaluation of the queries in chunks of bounded size (memory flat at any output size).

:func:`chunked_query` runs the per-query work of a head in chunks, optionally under activation
checkpointing, and lays chunks out so that the backward pass of the gathers only touches the part
of the table that a chunk reads. Inference memory is bounded at any number of queries; training
memory grows with the stored activations unless ``use_checkpoint`` is set.
"""
from typing import Callable, List, Optional

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

#: Default queries per chunk on CPU: activations of 4 x 4096 x 256 floats (16 MiB) per layer stay
#: below glibc's largest mmap threshold (32 MiB), so freed blocks are reused even with the
#: default allocator (larger blocks are mapped and page-faulted afresh for every chunk).
CPU_CHUNK = 4096
#: Default queries per chunk on accelerators (fewer, larger kernel launches).
DEVICE_CHUNK = 65536

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
