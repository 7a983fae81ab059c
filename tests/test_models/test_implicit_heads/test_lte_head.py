"""LTEHead (fast path) against the plain official LTE ``query_rgb`` in
``sair_toolbox/models/implicit_heads/reference.py``."""

import pytest
import torch

from sair_toolbox.models.implicit_heads import reference as ref
from sair_toolbox.models.implicit_heads.coords import make_cell, make_coord
from sair_toolbox.models.implicit_heads.lte_head import LTEHead
from sair_toolbox.registry import IMPLICIT_HEADS
from sair_toolbox.utils.errors import ConfigError, ShapeError


TOL = dict(rtol=1e-5, atol=1e-5)
C_IN, C_OUT, GRID = 6, 3, (6, 4)


def make_head(**kw):
    torch.manual_seed(0)
    kw.setdefault('hidden_channels', 16)
    kw.setdefault('mlp_hidden', (16, 16, 16))
    return LTEHead(C_IN, C_OUT, **kw)


def random_inputs(b=2, q=120, grid=GRID, seed=1):
    gen = torch.Generator().manual_seed(seed)
    feat = torch.randn(b, C_IN, *grid, generator=gen)
    coord = torch.rand(b, q, 2, generator=gen) * 2 - 1
    cell = torch.rand(b, q, 2, generator=gen) * 0.4 + 0.01
    skip = torch.randn(b, C_OUT, 5, 3, generator=gen)
    return feat, coord, cell, skip


def grid_inputs(size, b=2, grid=GRID):
    feat, _, _, skip = random_inputs(b=b, q=1, grid=grid)
    coord = make_coord(size).unsqueeze(0).expand(b, -1, -1)
    return feat, coord, make_cell(size, size[0] * size[1], b), skip


def test_build_from_registry_and_layout():
    head = IMPLICIT_HEADS.build(dict(type='LTEHead', in_channels=10, out_channels=3))
    assert isinstance(head, LTEHead) and head.global_skip
    assert (head.coef.kernel_size, head.coef.out_channels) == ((3, 3), 256)
    assert (head.freq.kernel_size, head.freq.out_channels) == ((3, 3), 256)
    assert head.phase.bias is None and head.phase.weight.shape == (128, 2)
    linears = [m for m in head.mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(256, 256), (256, 256),
                                                                   (256, 256), (256, 3)]


@pytest.mark.parametrize('local_ensemble', [True, False])
@pytest.mark.parametrize('global_skip', [True, False])
def test_matches_reference_at_random_coords(local_ensemble, global_skip):
    head = make_head(local_ensemble=local_ensemble, global_skip=global_skip, chunk_size=50)
    feat, coord, cell, skip = random_inputs()
    with torch.no_grad():
        out = head(feat, coord, cell, skip)
        expected = ref.lte_query(head, feat, coord, cell, skip)
    assert out.shape == (2, 120, C_OUT)
    torch.testing.assert_close(out, expected, **TOL)


@pytest.mark.parametrize('size', [GRID, (12, 8), (9, 7)], ids=['x1', 'x2', 'non-integer'])
def test_matches_reference_on_pixel_grids(size):
    head = make_head()
    feat, coord, cell, skip = grid_inputs(size)
    with torch.no_grad():
        out = head.query_grid(feat, size, skip=skip)
        expected = ref.lte_query(head, feat, coord, cell, skip)
    assert out.shape == (2, C_OUT) + size
    torch.testing.assert_close(out.flatten(2).transpose(1, 2), expected, **TOL)


def test_pruning_at_pixel_centres_matches_keeping_all_neighbours():
    feat, coord, cell, skip = grid_inputs(GRID)
    with torch.no_grad():
        pruned = make_head()(feat, coord, cell, skip)
        full = make_head(prune_eps=0.0)(feat, coord, cell, skip)
    torch.testing.assert_close(pruned, full, **TOL)


@pytest.mark.parametrize('use_checkpoint', [False, True])
@pytest.mark.parametrize('on_grid', [False, True], ids=['random', 'pixel-centres'])
def test_gradients_match_reference(use_checkpoint, on_grid):
    head = make_head(chunk_size=17, use_checkpoint=use_checkpoint).train()
    if on_grid:
        feat, coord, cell, skip = grid_inputs(GRID)
    else:
        feat, coord, cell, skip = random_inputs(q=60)
    proj = torch.randn(coord.shape[:2] + (C_OUT, ), generator=torch.Generator().manual_seed(7))

    def grads(fn):
        head.zero_grad()
        f = feat.clone().requires_grad_(True)
        s = skip.clone().requires_grad_(True)
        (fn(f, s) * proj).sum().backward()
        return [f.grad, s.grad] + [p.grad.clone() for p in head.parameters()]

    fast = grads(lambda f, s: head(f, coord, cell, s))
    expected = grads(lambda f, s: ref.lte_query(head, f, coord, cell, s))
    for a, b in zip(fast, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_batch_elements_are_independent():
    head = make_head(chunk_size=1000)
    feat, coord, cell, skip = random_inputs(b=3, q=30)
    with torch.no_grad():
        together = head(feat, coord, cell, skip)
        alone = [head(feat[i:i + 1], coord[i:i + 1], cell[i:i + 1], skip[i:i + 1])
                 for i in range(3)]
    torch.testing.assert_close(together, torch.cat(alone), **TOL)


@pytest.mark.parametrize('chunk_size', [1, 13, 10_000])
def test_chunk_size_does_not_change_the_result(chunk_size):
    feat, coord, cell, skip = random_inputs(q=40)
    with torch.no_grad():
        expected = make_head(chunk_size=10_000)(feat, coord, cell, skip)
        out = make_head(chunk_size=chunk_size)(feat, coord, cell, skip)
    torch.testing.assert_close(out, expected, **TOL)


def test_errors():
    head = make_head()
    feat, coord, cell, skip = random_inputs(q=10)
    with pytest.raises(ShapeError, match='4-D'):
        head(feat[0], coord, cell, skip)
    with pytest.raises(ShapeError, match='in_channels=6'):
        head(feat[:, :2], coord, cell, skip)
    with pytest.raises(ShapeError, match='coord'):
        head(feat, coord.transpose(1, 2), cell, skip)
    with pytest.raises(ShapeError, match='cell'):
        head(feat, coord, None, skip)
    with pytest.raises(ShapeError, match='batch mismatch'):
        head(feat[:1], coord, cell, skip)
    with pytest.raises(ShapeError, match='global_skip'):
        head(feat, coord, cell, None)
    with pytest.raises(ShapeError, match='skip must be'):
        head(feat, coord, cell, skip[:, :1])
    assert make_head(global_skip=False)(feat, coord, cell).shape == (2, 10, C_OUT)
    with pytest.raises(ConfigError, match='even'):
        LTEHead(4, 3, hidden_channels=15)
    with pytest.raises(ConfigError):
        LTEHead(4, 3, mlp_hidden=())
