"""AIRInput (what SAIR.encode returns): query and grid take the folded or the explicit path and
agree with the AIR head's own methods; exactly one of feat / proj."""
import pytest
import torch

from sair_toolbox.models.air_input import AIRInput
from sair_toolbox.models.implicit_heads.coords import make_cell, make_coord
from sair_toolbox.models.implicit_heads.liif_head import LIIFHead
from sair_toolbox.utils.errors import ShapeError


def _setup():
    torch.manual_seed(0)
    head = LIIFHead(5, 3, hidden_channels=(8, ), global_skip=True).double()
    gen = torch.Generator().manual_seed(1)
    feat = torch.randn(2, 5, 6, 7, generator=gen, dtype=torch.float64)
    skip = torch.randn(2, 3, 6, 7, generator=gen, dtype=torch.float64)
    return head, feat, skip


def test_query_and_grid_on_both_paths():
    head, feat, skip = _setup()
    plain = AIRInput(head, skip, feat=feat)
    folded = AIRInput(head, skip, proj=head.project(feat))
    assert not plain.folded and folded.folded
    coord = torch.rand(2, 11, 2, dtype=torch.float64) * 2 - 1
    cell = make_cell((9, 8), 11, 2, dtype=torch.float64)
    with torch.no_grad():
        expected = head(feat, coord, cell, skip)
        for rep in (plain, folded):
            torch.testing.assert_close(rep.query(coord, cell), expected)
            grid = rep.grid((9, 8))
            assert grid.shape == (2, 3, 9, 8)
            torch.testing.assert_close(grid, head.query_grid(feat, (9, 8), skip))
        # The grid is the query at every pixel centre.
        centres = make_coord((9, 8), dtype=torch.float64).unsqueeze(0).expand(2, -1, -1)
        flat = plain.query(centres, make_cell((9, 8), 72, 2, dtype=torch.float64))
        torch.testing.assert_close(plain.grid((9, 8)), flat.transpose(1, 2).reshape(2, 3, 9, 8))


def test_exactly_one_of_feat_and_proj():
    head, feat, skip = _setup()
    with pytest.raises(ShapeError, match='exactly one'):
        AIRInput(head, skip)
    with pytest.raises(ShapeError, match='exactly one'):
        AIRInput(head, skip, feat=feat, proj=head.project(feat))
    assert 'LIIFHead' not in repr(AIRInput(head, skip, feat=feat))  # no module dump
