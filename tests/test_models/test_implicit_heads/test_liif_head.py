"""LIIFHead (fast path) against the plain official LIIF ``query_rgb`` in
``sair_toolbox/models/implicit_heads/reference.py``.

Also covers the shared local-ensemble machinery (``neighbours.py``, ``chunking.py``, ``mlp.py``):
nearest cells bitwise as ``grid_sample`` picks them, the collapse of the ensemble at the grid's own
pixel centres, chunking, the fused linear kernel.
"""
import itertools

import pytest
import torch
import torch.nn.functional as F

from sair_toolbox.models.implicit_heads.coords import make_cell, make_coord, pixel_index_to_coord
from sair_toolbox.models.implicit_heads import reference as ref
from sair_toolbox.models.implicit_heads.chunking import chunked_query
from sair_toolbox.models.implicit_heads.liif_head import LIIFHead
from sair_toolbox.models.implicit_heads.mlp import linear
from sair_toolbox.models.implicit_heads.neighbours import find_neighbours
from sair_toolbox.registry import IMPLICIT_HEADS
from sair_toolbox.utils.errors import ConfigError, ShapeError


TOL = dict(rtol=1e-5, atol=1e-5)


C_IN, C_OUT, GRID = 6, 5, (5, 7)


def make_head(**kw):
    torch.manual_seed(0)
    kw.setdefault('hidden_channels', (16, 16, 16))
    return LIIFHead(C_IN, C_OUT, **kw)


def random_inputs(b=2, q=150, grid=GRID, seed=1):
    gen = torch.Generator().manual_seed(seed)
    feat = torch.randn(b, C_IN, *grid, generator=gen)
    coord = torch.rand(b, q, 2, generator=gen) * 2 - 1
    cell = torch.rand(b, q, 2, generator=gen) * 0.4 + 0.01
    skip = torch.randn(b, C_OUT, 4, 9, generator=gen)
    return feat, coord, cell, skip


def centre_inputs(size, b=2, grid=GRID, seed=1):
    feat, _, _, skip = random_inputs(b=b, q=1, grid=grid, seed=seed)
    n = size[0] * size[1]
    coord = make_coord(size).unsqueeze(0).expand(b, -1, -1)
    return feat, coord, make_cell(size, n, b), skip


SWITCHES = [
    dict(zip(('feat_unfold', 'local_ensemble', 'cell_decode', 'global_skip'), values))
    for values in itertools.product([True, False], repeat=4)
]


def test_build_from_registry_and_mlp_layout():
    head = IMPLICIT_HEADS.build(dict(type='LIIFHead', in_channels=10, out_channels=3))
    assert isinstance(head, LIIFHead)
    linears = [m for m in head.mlp if isinstance(m, torch.nn.Linear)]
    # The paper's "four-layer MLP, hidden 256" on [9 C unfolded, rel_coord, rel_cell].
    assert [(m.in_features, m.out_features) for m in linears] == [(94, 256), (256, 256),
                                                                   (256, 256), (256, 3)]
    assert set(head.state_dict()) == {f'mlp.{i}.{p}' for i in (0, 2, 4, 6)
                                      for p in ('weight', 'bias')}
    assert (head.in_channels, head.out_channels, head.global_skip) == (10, 3, False)


@pytest.mark.parametrize('switches', SWITCHES, ids=lambda s: '-'.join(
    k for k, v in s.items() if v) or 'none')
def test_matches_reference_at_random_coords(switches):
    head = make_head(chunk_size=64, **switches)
    feat, coord, cell, skip = random_inputs()
    cell_arg = cell if switches['cell_decode'] else None
    with torch.no_grad():
        out = head(feat, coord, cell_arg, skip)
        expected = ref.liif_query(head, feat, coord, cell_arg, skip)
    assert out.shape == (2, 150, C_OUT)
    torch.testing.assert_close(out, expected, **TOL)


@pytest.mark.parametrize('size', [GRID, (10, 14), (8, 11), (3, 4)],
                         ids=['x1', 'x2', 'non-integer', 'down'])
@pytest.mark.parametrize('local_ensemble', [True, False])
def test_matches_reference_on_pixel_grids(size, local_ensemble):
    head = make_head(local_ensemble=local_ensemble)
    feat, coord, cell, _ = centre_inputs(size)
    with torch.no_grad():
        out = head.query_grid(feat, size)
        expected = ref.liif_query(head, feat, coord, cell)
    assert out.shape == (2, C_OUT) + size
    torch.testing.assert_close(out.flatten(2).transpose(1, 2), expected, **TOL)


@pytest.mark.parametrize('local_ensemble', [True, False])
def test_matches_reference_at_domain_edges_and_cell_boundaries(local_ensemble):
    head = make_head(local_ensemble=local_ensemble)
    ys = torch.cat([torch.tensor([-1.0, -1 + 1e-7, 1 - 1e-7, 1.0, 1.05, -1.2]),
                    torch.linspace(-1, 1, 2 * GRID[0] + 1)])
    xs = torch.cat([torch.tensor([-1.0, 1.0, 0.0]), torch.linspace(-1, 1, 2 * GRID[1] + 1)])
    coord = torch.stack(torch.meshgrid(ys, xs, indexing='ij'), -1).view(1, -1, 2).repeat(2, 1, 1)
    feat, _, _, _ = random_inputs()
    cell = torch.full_like(coord, 0.3)
    with torch.no_grad():
        out = head(feat, coord, cell)
        expected = ref.liif_query(head, feat, coord, cell)
    torch.testing.assert_close(out, expected, **TOL)


def test_pixel_centres_collapse_the_ensemble():
    # At the grid's own pixel centres three of the four weights are 2.5e-10 (interior).
    coord = make_coord(GRID)
    nbrs = find_neighbours(coord, GRID)
    interior = (coord[:, 0] < coord[:, 0].max()) & (coord[:, 1] < coord[:, 1].max())
    w = nbrs.weight[:, interior]
    kept = w > 1e-8
    assert torch.equal(kept.sum(0), torch.ones_like(kept.sum(0)))
    assert float(w[~kept].max()) < 1e-9
    # The neighbour that remains is the query's own cell, at relative coordinate exactly 0.
    assert torch.equal(nbrs.rel_coord[:, interior][kept], torch.zeros(int(interior.sum()), 2))
    # Pruning gives the reference's result; so does keeping every neighbour.
    feat, coord_b, cell, _ = centre_inputs(GRID)
    with torch.no_grad():
        pruned = make_head()(feat, coord_b, cell)
        full = make_head(prune_eps=0.0)(feat, coord_b, cell)
        expected = ref.liif_query(make_head(), feat, coord_b, cell)
    torch.testing.assert_close(pruned, expected, **TOL)
    torch.testing.assert_close(full, expected, **TOL)


def test_sampled_pixel_indices_match_make_coord_bitwise():
    # Sampled training queries must hit the same collapse as the full grid.
    for size in [(37, 53), (384, 384), (256, 256)]:
        index = torch.arange(size[0] * size[1]).unsqueeze(0)
        assert torch.equal(pixel_index_to_coord(index, size)[0], make_coord(size))


def test_nearest_cells_are_those_of_grid_sample():
    h, w = 6, 9
    gen = torch.Generator().manual_seed(3)
    lines_y = torch.linspace(-1, 1, 2 * h + 1)  # cell boundaries and centres
    lines_x = torch.linspace(-1, 1, 2 * w + 1)
    edges = torch.stack(torch.meshgrid(lines_y, lines_x, indexing='ij'), -1).view(-1, 2)
    coord = torch.cat([torch.rand(500, 2, generator=gen) * 2 - 1, make_coord((h, w)),
                       make_coord((12, 18)), make_coord((7, 13)), edges])
    nbrs = find_neighbours(coord, (h, w))
    cell_id = torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w)
    k = 0
    for vx in (-1, 1):
        for vy in (-1, 1):
            shifted = coord.clone()
            shifted[:, 0] += vx * (2 / h / 2) + 1e-6
            shifted[:, 1] += vy * (2 / w / 2) + 1e-6
            shifted.clamp_(-1 + 1e-6, 1 - 1e-6)
            picked = F.grid_sample(cell_id, shifted.flip(-1).view(1, 1, -1, 2), mode='nearest',
                                   align_corners=False).view(-1).long()
            assert torch.equal(nbrs.index[k], picked)
            k += 1
    torch.testing.assert_close(nbrs.weight.sum(0), torch.ones(len(coord)))


def test_gradients_match_reference():
    head = make_head(chunk_size=40, global_skip=True)
    feat, coord, cell, skip = random_inputs()
    proj = torch.randn(2, 150, C_OUT, generator=torch.Generator().manual_seed(5))

    def grads(fn):
        head.zero_grad()
        f = feat.clone().requires_grad_(True)
        s = skip.clone().requires_grad_(True)
        (fn(f, s) * proj).sum().backward()
        return [f.grad, s.grad] + [p.grad.clone() for p in head.parameters()]

    fast = grads(lambda f, s: head(f, coord, cell, s))
    expected = grads(lambda f, s: ref.liif_query(head, f, coord, cell, s))
    for a, b in zip(fast, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('use_checkpoint', [False, True])
@pytest.mark.parametrize('hidden', [(16, 16), (8, )], ids=['mkldnn-width', 'narrow'])
def test_gradients_match_reference_on_pixel_grid(use_checkpoint, hidden):
    # Scale 1 exercises the pruned (sparse) path; chunks split batch elements and queries.
    head = make_head(chunk_size=13, use_checkpoint=use_checkpoint, hidden_channels=hidden).train()
    feat, coord, cell, _ = centre_inputs(GRID)
    proj = torch.randn(2, 35, C_OUT, generator=torch.Generator().manual_seed(5))

    def grads(fn):
        head.zero_grad()
        f = feat.clone().requires_grad_(True)
        (fn(f) * proj).sum().backward()
        return [f.grad] + [p.grad.clone() for p in head.parameters()]

    fast = grads(lambda f: head(f, coord, cell))
    expected = grads(lambda f: ref.liif_query(head, f, coord, cell))
    for a, b in zip(fast, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_fused_linear_matches_f_linear_with_gradients():
    torch.manual_seed(0)
    layer = torch.nn.Linear(12, 20)
    x = torch.randn(30, 12)

    def run(fn):
        layer.zero_grad()
        xg = x.clone().requires_grad_(True)
        out = fn(xg)
        (out * torch.linspace(-1, 1, 20)).sum().backward()
        return [out.detach(), xg.grad, layer.weight.grad.clone(), layer.bias.grad.clone()]

    for relu in (False, True):
        got = run(lambda xg: linear(xg, layer, relu=relu))
        expected = run(lambda xg: (torch.relu if relu else torch.nn.Identity())(layer(xg)))
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize('chunk_size', [1, 7, 149, 150, 301, 10_000])
def test_chunk_size_does_not_change_the_result(chunk_size):
    feat, coord, cell, _ = random_inputs(q=150)
    with torch.no_grad():
        expected = make_head(chunk_size=10_000)(feat, coord, cell)
        out = make_head(chunk_size=chunk_size)(feat, coord, cell)
    torch.testing.assert_close(out, expected, **TOL)


def test_chunks_are_bounded_and_assembled_in_order():
    seen = []

    def chunk_fn(tab, crd, cll, offset):
        seen.append(len(crd))
        return torch.cat([crd, cll], dim=-1)

    for b, q, size in [(3, 50, 20), (5, 4, 10), (2, 9, 100), (1, 7, 1)]:
        seen.clear()
        coord = torch.rand(b, q, 2)
        cell = torch.rand(b, q, 2)
        out = chunked_query(chunk_fn, torch.zeros(b, 6, 1), coord, cell, size)
        torch.testing.assert_close(out, torch.cat([coord, cell], dim=-1))
        assert max(seen) <= size and sum(seen) == b * q


def test_batch_elements_are_independent():
    head = make_head(chunk_size=1000)
    feat, coord, cell, skip = random_inputs(b=3, q=40)
    head.global_skip = True
    with torch.no_grad():
        together = head(feat, coord, cell, skip)
        alone = [head(feat[i:i + 1], coord[i:i + 1], cell[i:i + 1], skip[i:i + 1])
                 for i in range(3)]
    torch.testing.assert_close(together, torch.cat(alone), **TOL)


def test_projection_runs_nhwc_with_the_values_of_the_nchw_conv():
    head = LIIFHead(6, 3, hidden_channels=(16, ))
    feat = torch.randn(2, 6, 5, 7)  # NCHW input: converted, not rejected
    proj = head.project(feat)
    assert proj.is_contiguous(memory_format=torch.channels_last)
    weight, bias = head.projection()
    torch.testing.assert_close(proj, F.conv2d(feat, weight, bias, padding=1))
    # The decode's row table is then a view, not a copy.
    assert proj.permute(0, 2, 3, 1).is_contiguous()


def test_query_grid_equals_forward_on_make_coord():
    head = make_head()
    feat, coord, cell, _ = centre_inputs((9, 4))
    with torch.no_grad():
        grid = head.query_grid(feat, (9, 4))
        flat = head(feat, coord, cell)
    assert grid.shape == (2, C_OUT, 9, 4)
    torch.testing.assert_close(grid, flat.transpose(1, 2).reshape(2, C_OUT, 9, 4))


def test_empty_query_set():
    feat, coord, cell, _ = random_inputs(q=0)
    assert make_head()(feat, coord, cell).shape == (2, 0, C_OUT)


def test_errors():
    head = make_head()
    feat, coord, cell, skip = random_inputs(q=10)
    with pytest.raises(ShapeError, match='4-D'):
        head(feat[0], coord, cell)
    with pytest.raises(ShapeError, match='channels, expected in_channels=6'):
        head(feat[:, :4], coord, cell)
    with pytest.raises(ShapeError, match=r'coord must be \(B, Q, 2\)'):
        head(feat, coord[..., :1], cell)
    with pytest.raises(ShapeError, match='cell'):
        head(feat, coord, None)
    with pytest.raises(ShapeError, match='batch mismatch'):
        head(feat, coord[:1], cell[:1])
    with pytest.raises(ShapeError, match='global_skip'):
        make_head(global_skip=True)(feat, coord, cell, None)
    with pytest.raises(ShapeError, match='skip must be'):
        make_head(global_skip=True)(feat, coord, cell, skip[:, :2])
    # No cell needed without cell decoding.
    assert make_head(cell_decode=False)(feat, coord).shape == (2, 10, C_OUT)
    with pytest.raises(ConfigError):
        LIIFHead(4, 3, hidden_channels=())
    with pytest.raises(ConfigError):
        LIIFHead(4, 3, chunk_size=0)
