"""Implicit-head suite: the heads' fast path against the plain reference of Eq. 1 / Eq. 5.

The reference is the official LIIF / LTE ``query_rgb`` transcribed in
:mod:`sair_toolbox.models.implicit_heads.reference` (grid_sample, unfold, full MLP per
neighbour), evaluated in query chunks so that memory stays bounded. Both use the same weights;
the table reports median wall times (inference, ``torch.no_grad``), the speed-up ratio and the
largest absolute difference between the two outputs.

Cases (``S = size``): LIIF as SIR (grid S/16 x S/16, 512 + 1 channels in, 512 out, all S x S
pixel centres), LIIF as AIR (grid S x S, 64 + 512 channels in, RGB out, S x S queries), the same at
a non-integer scale (1.5 S x 1.5 S queries), LTE as AIR at both scales, and LIIF AIR at scale 1
with neighbour pruning off (to show what pruning contributes).
"""
from typing import Callable, List, Optional, Sequence, Tuple

import torch

from sair_toolbox.experiments.benchmarks.common import median_time
from sair_toolbox.models.implicit_heads import reference
from sair_toolbox.models.implicit_heads.coords import make_cell, make_coord
from sair_toolbox.models.implicit_heads.liif_head import LIIFHead
from sair_toolbox.models.implicit_heads.lte_head import LTEHead
from sair_toolbox.utils.errors import ConfigError

SEM_CHANNELS = 512  # CLIP ViT-B/16 text-aligned embedding
APP_CHANNELS = 64  # appearance encoder output

#: (key, label, head factory, feature grid (h, w), output size (h, w), 'liif' or 'lte')
HeadCase = Tuple[str, str, Callable[[], torch.nn.Module], Tuple[int, int], Tuple[int, int], str]


def build_cases(size: int) -> List[HeadCase]:
    """The benchmark cases at image size ``size`` (>= 16: the SIR grid is ``size // 16``).

    Args:
        size: Image side S in pixels.

    Returns:
        One :data:`HeadCase` per case, in table order.

    Raises:
        ConfigError: ``size`` < 16.
    """
    sem = size // 16
    if sem < 1:
        raise ConfigError(f'--size must be >= 16 (SIR grid is size/16), got {size}')
    big = size * 3 // 2
    air_in = APP_CHANNELS + SEM_CHANNELS
    sir = f'x{size / sem:g}'
    return [
        ('liif_sir_x16', f'LIIF SIR {sir}', lambda: LIIFHead(SEM_CHANNELS + 1, SEM_CHANNELS),
         (sem, sem), (size, size), 'liif'),
        ('liif_air_x1', 'LIIF AIR x1', lambda: LIIFHead(air_in, 3), (size, size), (size, size),
         'liif'),
        ('liif_air_x1_noprune', 'LIIF AIR x1 noprune',
         lambda: LIIFHead(air_in, 3, prune_eps=0.0), (size, size), (size, size), 'liif'),
        ('liif_air_x1.5', 'LIIF AIR x1.5', lambda: LIIFHead(air_in, 3), (size, size), (big, big),
         'liif'),
        ('lte_air_x1', 'LTE AIR x1', lambda: LTEHead(air_in, 3), (size, size), (size, size), 'lte'),
        ('lte_air_x1.5', 'LTE AIR x1.5', lambda: LTEHead(air_in, 3), (size, size), (big, big),
         'lte'),
    ]


def heads_benchmark(size: int, repeat: int, *, batch: int = 1, chunk: Optional[int] = None,
                    ref_chunk: int = 8192, cases: Optional[Sequence[str]] = None,
                    fast_only: bool = False, seed: int = 0, allocator_tuned: bool = True) -> None:
    """Print the implicit-head table (fast path against the plain reference).

    Args:
        size: Image side S (>= 16).
        repeat: Timed runs per case (median), >= 1.
        batch: Batch size.
        chunk: Queries per chunk of the fast path; None keeps the head's default.
        ref_chunk: Queries per chunk of the reference (bounds its memory).
        cases: Case keys to run (see :func:`build_cases`); None runs all.
        fast_only: Time the fast path only (no reference, ratio or difference).
        seed: Seed of the weights and inputs.
        allocator_tuned: Whether the CPU allocator was tuned (only printed in the header).

    Raises:
        ConfigError: An unknown case key, or ``size`` < 16.
    """
    table = build_cases(size)
    if cases:
        unknown = sorted(set(cases) - {c[0] for c in table})
        if unknown:
            raise ConfigError(f'unknown case {unknown}; choose from '
                              f'{[c[0] for c in table]}')
        table = [c for c in table if c[0] in cases]

    print(f'implicit-head benchmark: torch {torch.__version__}, {torch.get_num_threads()} '
          f'threads, batch {batch}, size {size}, repeat {repeat} (median), '
          f'reference chunk {ref_chunk}, allocator '
          f'{"tuned" if allocator_tuned else "glibc defaults"}')
    header = (f'{"case":<20} {"grid":>9} {"C_in":>5} {"out":>4} {"queries":>9} '
              f'{"fast ms":>10} {"ref ms":>10} {"ratio":>7} {"max|diff|":>10}')
    print(header)
    print('-' * len(header))
    b = batch
    for key, label, factory, grid, out_size, kind in table:
        torch.manual_seed(seed)
        head = factory().eval()
        if chunk:
            head.chunk_size = chunk
        feat = torch.randn(b, head.in_channels, *grid)
        n = out_size[0] * out_size[1]
        coord = make_coord(out_size).unsqueeze(0).expand(b, -1, -1)
        cell = make_cell(out_size, n, b)
        skip = torch.randn(b, head.out_channels, *grid) if head.global_skip else None
        query = reference.liif_query if kind == 'liif' else reference.lte_query

        def run_ref():
            return query(head, feat, coord, cell, skip, chunk=ref_chunk)

        def run_fast():
            return head(feat, coord, cell, skip)

        with torch.no_grad():
            # Warm-up on a few queries (kernel selection, allocator).
            head(feat, coord[:, :64], cell[:, :64], skip)
            fast_s, fast_out = median_time(run_fast, repeat)
            if fast_only:
                ref_ms, ratio, diff = '-', '-', '-'
            else:
                ref_s, ref_out = median_time(run_ref, repeat)
                ref_ms, ratio = f'{ref_s * 1e3:.1f}', f'{ref_s / fast_s:.2f}x'
                diff = f'{(fast_out - ref_out).abs().max().item():.2e}'
        print(f'{label:<20} {grid[0]:>4}x{grid[1]:<4} {head.in_channels:>5} '
              f'{head.out_channels:>4} {out_size[0]:>4}x{out_size[1]:<4} '
              f'{fast_s * 1e3:>10.1f} {ref_ms:>10} {ratio:>7} {diff:>10}', flush=True)
