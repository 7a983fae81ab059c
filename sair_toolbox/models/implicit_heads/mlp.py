"""The heads' MLP (LIIF's layer stack) and the fast linear kernel its layers run on.

:func:`build_mlp` builds the plain ``nn.Linear`` / ``nn.ReLU`` stack that checkpoints hold;
the heads do not call it as an ``nn.Sequential`` but layer by layer through :func:`linear`, which
runs oneDNN's fused ``linear + ReLU`` kernel on CPU (faster than MKL's sgemm behind ``F.linear``
in float32, and the fastest bfloat16 kernel; ``tools/benchmark.py --suite linear`` times the
candidates on the machine at hand), with an exact GEMM backward, falling back to ``F.linear``.

Precision under ``torch.autocast``: the layers run in the autocast dtype (:func:`autocast_dtype`),
as autocast runs ``F.linear``.
"""
import functools
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from sair_toolbox.utils import precision as _precision


def build_mlp(in_channels: int, hidden_channels: Sequence[int],
              out_channels: int) -> torch.nn.Sequential:
    """LIIF's MLP: ``Linear, ReLU`` per hidden width, then a last ``Linear`` (plain modules)."""
    layers = []
    last = in_channels
    for width in hidden_channels:
        layers += [torch.nn.Linear(last, width), torch.nn.ReLU(inplace=True)]
        last = width
    layers.append(torch.nn.Linear(last, out_channels))
    return torch.nn.Sequential(*layers)


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


#: dtypes for which :func:`linear` may use oneDNN's kernel (when the probe agrees).
MKLDNN_DTYPES = (torch.float32, torch.bfloat16)


@functools.lru_cache(maxsize=None)
def mkldnn_linear_available(dtype: torch.dtype = torch.float32) -> bool:
    """Whether oneDNN's fused ``linear (+ ReLU)`` CPU kernel works in ``dtype`` here.

    ``torch.ops.mkldnn._linear_pointwise`` is the kernel PyTorch's compiler uses for CPU linear
    layers. On the CPUs this project was measured on it beats ``F.linear`` (MKL sgemm) in float32,
    and in bfloat16 both ``F.linear`` / ``addmm`` in bfloat16 and ``F.linear`` under autocast
    (which recasts the float32 weight on every call); ``tools/benchmark.py --suite linear`` times
    them. float16 has no oneDNN kernel on CPUs without AVX512-FP16 and stays on ``F.linear``.
    Probed once per dtype on a tiny input against ``F.linear`` in float32; any failure falls back.
    bfloat16 also needs :func:`sair_toolbox.utils.precision.cpu_bf16_supported` (oneDNN's native
    bfloat16 kernels).
    """
    if dtype not in MKLDNN_DTYPES:
        return False
    try:
        # The toolbox's one native-bfloat16 probe (tests mock it there).
        if dtype == torch.bfloat16 and not _precision.cpu_bf16_supported():
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

    Args:
        x: (M, in_features).
        layer: the ``nn.Linear`` to apply.
        relu: apply ReLU to the result (fused into oneDNN's kernel).

    Returns:
        (M, out_features).
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
