"""Coordinate conventions shared by every implicit head (LIIF's ``make_coord``).

Coordinates are pixel centres in ``[-1, 1]``, last dimension ordered ``(y, x)``: for a grid of
``n`` cells along an axis, cell ``i`` has centre ``-1 + (2 i + 1) / n``. A *cell* is the size of a
query pixel in the same units, ``(2 / H_out, 2 / W_out)``.
"""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor


def make_coord(shape: Sequence[int], flatten: bool = True,
               device: Optional[torch.device] = None,
               dtype: torch.dtype = torch.float32) -> Tensor:
    """Pixel-centre coordinates of a grid.

    Args:
        shape: ``(H, W)`` of the grid.
        flatten: return ``(H*W, 2)`` instead of ``(H, W, 2)``.
        device: device of the result.
        dtype: dtype of the result.

    Returns:
        Tensor of ``(y, x)`` coordinates in ``(-1, 1)``: ``(H*W, 2)`` or ``(H, W, 2)``.
    """
    seqs = []
    for n in shape:
        r = 1.0 / n
        seqs.append(-1 + r + 2 * r * torch.arange(n, device=device, dtype=dtype))
    grid = torch.stack(torch.meshgrid(*seqs, indexing='ij'), dim=-1)
    return grid.reshape(-1, len(shape)) if flatten else grid


def make_cell(size: Tuple[int, int], num: int, batch: int = 1,
              device: Optional[torch.device] = None,
              dtype: torch.dtype = torch.float32) -> Tensor:
    """Cell sizes ``(2 / H, 2 / W)`` for ``num`` queries of an ``H x W`` output.

    Returns:
        Tensor ``(batch, num, 2)``.
    """
    cell = torch.tensor([2.0 / size[0], 2.0 / size[1]], device=device, dtype=dtype)
    return cell.view(1, 1, 2).expand(batch, num, 2).contiguous()


def pixel_index_to_coord(index: Tensor, size: Tuple[int, int],
                         dtype: torch.dtype = torch.float32) -> Tensor:
    """Coordinates of flat pixel indices of an ``H x W`` grid.

    Args:
        index: ``(B, Q)`` long tensor of flat indices ``y * W + x``.
        size: ``(H, W)``.
        dtype: of the result (float64 for a float64 grid, as ``grid_queries`` makes them).

    Returns:
        ``(B, Q, 2)`` float ``(y, x)`` pixel centres in ``(-1, 1)``.
    """
    h, w = size
    y = torch.div(index, w, rounding_mode='floor')
    x = index - y * w
    # Look the centres up in make_coord's own tables so that the values are bitwise those of
    # make_coord (the heads then see relative coordinates of exactly 0 at the grid's centres).
    cy = make_coord((h, ), device=index.device, dtype=dtype).view(-1)
    cx = make_coord((w, ), device=index.device, dtype=dtype).view(-1)
    return torch.stack([cy[y], cx[x]], dim=-1)


def pixel_queries(where: Tensor, size: Tuple[int, int], dtype: torch.dtype = torch.float32
                  ) -> Tuple[Tensor, Tensor, Tensor]:
    """The pixel-centre queries of the set pixels of a batch of masks.

    Args:
        where: (B, H * W) bool (or anything that reshapes to it), the pixels to query.
        size: ``(H, W)``.
        dtype: of the coordinates and cells.

    Returns:
        ``(index (B, Q) long, coord (B, Q, 2), cell (B, Q, 2))`` with ``Q`` the largest count
        of set pixels (at least 1): each element's flat indices in order, padded by repeating its
        first one (index 0 for an element with none), their :func:`pixel_index_to_coord`
        coordinates (bitwise :func:`make_coord`'s) and the grid's cell.
    """
    b = where.shape[0]
    flat = where.reshape(b, -1).bool()
    n = int(flat.sum(1).max()) if b else 0
    index = torch.zeros(b, max(n, 1), dtype=torch.long, device=where.device)
    for i in range(b):
        nz = flat[i].nonzero()[:, 0]
        if len(nz):
            index[i, :len(nz)] = nz
            index[i, len(nz):] = nz[0]
    coord = pixel_index_to_coord(index, size, dtype)
    cell = make_cell(size, index.shape[1], b, device=where.device, dtype=dtype)
    return index, coord, cell
