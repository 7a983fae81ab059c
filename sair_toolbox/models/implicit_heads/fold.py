"""Fold a linear layer that produces part of a head's input into the head's grid convolution."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from sair_toolbox.utils.errors import ShapeError

from .base import ProjectedImplicitHead, project_nhwc


def folded_projection(head: ProjectedImplicitHead,
                      parts: Sequence[Tuple[Tensor, Optional[nn.Linear]]]) -> Tensor:
    """``head.project(cat([L_i(x_i)]))`` without computing the ``L_i(x_i)``.

    Each part of the head's input grid is either given as is (``L_i = None``) or as the input
    ``x_i`` (B, e_i, h, w) of a per-pixel linear layer ``L_i`` (weight (c_i, e_i), bias (c_i,)),
    whose output would be that part. The head's convolution (weight ``W`` (D, C, k, k)) is linear,
    so its slice ``W_i`` over the part composes with ``L_i``:
    ``conv(L_i(x), W_i) = conv(x, W_i . L_i.weight) + conv(1, W_i . L_i.bias)``. The bias term
    is a convolution of a constant-one channel, so it is exact where the convolution's zero
    padding reaches past the border (there the missing neighbours contribute no bias either); the
    one channel is appended to the input, with kernel ``W_i . L_i.bias``.

    SAIR uses it to feed AIR the SIR's blended hidden activation (256 channels) instead of the
    semantic field ``S`` (512): the convolution reads 64 + 256 + 1 channels instead of 64 + 512,
    and ``S`` is never materialised at full resolution.

    Precision: the folded weights are computed in float32 (outside autocast); the convolution
    then runs like any convolution (in the autocast dtype under autocast).

    Args:
        head: the head whose projection to build.
        parts: ``(x_i, L_i)`` in the order of the head's input channels.

    Returns:
        (B, D, h, w), equal to ``head.project(torch.cat([x if L is None else L(x), ...], 1))`` up
        to float rounding, gradients included.
    """
    weight, bias = head.projection()
    inputs, kernels = [], []
    bias_kernel = None
    start = 0
    with torch.autocast(weight.device.type, enabled=False):
        for x, layer in parts:
            width = x.shape[1] if layer is None else layer.out_features
            w_part = weight[:, start:start + width]
            start += width
            inputs.append(x)
            if layer is None:
                kernels.append(w_part)
                continue
            if x.shape[1] != layer.in_features:
                raise ShapeError(f'folded_projection: input of {x.shape[1]} channels for a '
                                 f'layer of in_features={layer.in_features}')
            kernels.append(torch.einsum('dckl,ce->dekl', w_part, layer.weight))
            if layer.bias is not None:
                term = torch.einsum('dckl,c->dkl', w_part, layer.bias)
                bias_kernel = term if bias_kernel is None else bias_kernel + term
        if start != weight.shape[1]:
            raise ShapeError(f'folded_projection: the parts give {start} channels, '
                             f'{type(head).__name__} takes {weight.shape[1]}')
    if bias_kernel is not None:
        x0 = inputs[0]
        inputs.append(x0.new_ones(x0.shape[0], 1, *x0.shape[-2:]))
        kernels.append(bias_kernel.unsqueeze(1))
    # torch.cat promotes mixed dtypes; under autocast the convolution casts once more.
    return project_nhwc(torch.cat(inputs, dim=1), torch.cat(kernels, dim=1), bias)
