"""Linear-kernel suite: the kernels for the heads' MLP layers (``M x 256 -> 256`` + ReLU).

Times each float32 / bfloat16 kernel torch offers on CPU (MKL, oneDNN fused linear+ReLU, addmm,
autocast) and prints its median time and throughput, to show which is fastest per dtype: what
:func:`sair_toolbox.models.implicit_heads.mlp.linear` picks. A kernel the CPU lacks is reported
as unavailable.
"""
import torch
import torch.nn.functional as F

from sair_toolbox.experiments.benchmarks.common import median_time


def linear_benchmark(repeat: int, *, quick: bool = False, seed: int = 0) -> None:
    """Print the linear-kernel comparison.

    Args:
        repeat: Timed runs per kernel (median); at least 5 are run.
        quick: 4096 rows instead of 16384.
        seed: Seed of the random operands.
    """
    rows = 4096 if quick else 16384
    repeat = max(repeat, 5)
    print(f'\nlinear kernels ({rows} x 256 @ 256 x 256 + ReLU, median of {repeat}; '
          'GFLOP/s):')
    gen = torch.Generator().manual_seed(seed)
    x, w, b = (torch.randn(rows, 256, generator=gen), torch.randn(256, 256, generator=gen),
               torch.randn(256, generator=gen))
    xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
    mkldnn = torch.ops.mkldnn._linear_pointwise

    def autocast_linear():
        with torch.autocast('cpu', dtype=torch.bfloat16):
            return torch.relu_(F.linear(x, w, b))

    kernels = [
        ('float32 F.linear (MKL)', lambda: torch.relu_(F.linear(x, w, b))),
        ('float32 oneDNN linear+relu', lambda: mkldnn(x, w, b, 'relu', [], '')),
        ('bfloat16 F.linear', lambda: torch.relu_(F.linear(xb, wb, bb))),
        ('bfloat16 addmm', lambda: torch.relu_(torch.addmm(bb, xb, wb.t()))),
        ('bfloat16 oneDNN linear+relu', lambda: mkldnn(xb, wb, bb, 'relu', [], '')),
        ('autocast F.linear (fp32 in)', autocast_linear),
    ]
    flops = 2 * rows * 256 * 256
    with torch.no_grad():
        for label, fn in kernels:
            try:
                fn()
                seconds, _ = median_time(fn, repeat)
                print(f'  {label:<30} {seconds * 1e3:>8.2f} ms {flops / seconds / 1e9:>7.0f}')
            except RuntimeError as exc:  # e.g. no oneDNN bfloat16 kernel on this CPU
                print(f'  {label:<30} unavailable ({" ".join(str(exc).split())[:60]})')
