"""The heads' fast path under ``torch.autocast`` (bfloat16 and float16 on CPU).

Coordinates, neighbours and ensemble weights stay float32, so a bfloat16 run differs from float32
only by the rounding of the tables and MLP layers: ``TOL`` below is relative to the output's
scale. Also the oneDNN ``linear`` helper in bfloat16 and :func:`folded_projection`.
"""
import pytest
import torch
import torch.nn.functional as F

from sair_toolbox.models.implicit_heads.coords import make_cell, make_coord
from sair_toolbox.models.implicit_heads.fold import folded_projection
from sair_toolbox.models.implicit_heads.liif_head import LIIFHead
from sair_toolbox.models.implicit_heads.mlp import linear, mkldnn_linear_available
from sair_toolbox.models.implicit_heads.lte_head import LTEHead
from sair_toolbox.utils.errors import ShapeError

#: bfloat16 keeps 8 significant bits; a few layers of 32-wide MLPs stay within 3 % of the scale.
TOL = {torch.bfloat16: 0.03, torch.float16: 0.005}
HEADS = {
    'liif': lambda: LIIFHead(6, 3, hidden_channels=(32, 32)),
    'lte': lambda: LTEHead(6, 3, hidden_channels=16, mlp_hidden=(32, )),
}


def _inputs(grid=(48, 40), out=(96, 60), seed=0):
    gen = torch.Generator().manual_seed(seed)
    feat = torch.randn(2, 6, *grid, generator=gen)
    skip = torch.randn(2, 3, *grid, generator=gen)
    coord = make_coord(out).unsqueeze(0).expand(2, -1, -1)
    return feat, coord, make_cell(out, out[0] * out[1], 2), skip


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16], ids=['bf16', 'fp16'])
@pytest.mark.parametrize('name', sorted(HEADS))
def test_forward_and_backward_under_autocast(name, dtype):
    torch.manual_seed(0)
    head = HEADS[name]().train()
    # A 48 x 40 grid queried at 96 x 60: in bfloat16 the coordinates themselves could not even
    # tell these pixel centres apart, so this fails unless they stay float32.
    feat, coord, cell, skip = _inputs()
    feat.requires_grad_(True)
    ref = head(feat, coord, cell, skip)
    with torch.autocast('cpu', dtype=dtype):
        out = head(feat, coord, cell, skip)
    scale = ref.abs().max()
    assert (out.float() - ref).abs().max() < TOL[dtype] * scale
    out.float().square().mean().backward()
    for p in [feat] + list(head.parameters()):
        assert p.grad is not None and p.grad.dtype == torch.float32
        assert torch.isfinite(p.grad).all()


@pytest.mark.parametrize('name', sorted(HEADS))
def test_query_grid_coordinates_stay_float32(name):
    head = HEADS[name]().eval()
    feat, coord, cell, skip = _inputs(grid=(64, 64), out=(64, 64))
    with torch.no_grad():
        ref = head.query_grid(feat, (64, 64), skip)
        # A bfloat16 grid (e.g. a SIR grid made under autocast) must not give bfloat16 coords.
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = head.query_grid(feat.bfloat16(), (64, 64), skip)
    assert (out.float() - ref).abs().max() < TOL[torch.bfloat16] * ref.abs().max()


@pytest.mark.skipif(not mkldnn_linear_available(torch.bfloat16),
                    reason='no oneDNN bfloat16 kernel on this CPU')
def test_linear_helper_in_bfloat16_matches_f_linear_with_gradients():
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 32)
    x = torch.randn(100, 64, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = linear(x, layer, relu=True)
        expected = torch.relu(F.linear(x, layer.weight, layer.bias))
    assert out.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected.float(), atol=0.05, rtol=0.02)
    grads = []
    for y in (out, expected):
        layer.zero_grad()
        x.grad = None
        y.float().sum().backward()
        grads.append([x.grad.clone(), layer.weight.grad.clone(), layer.bias.grad.clone()])
    for a, b in zip(*grads):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, atol=0.1, rtol=0.02)


def test_kernel_probe_does_not_depend_on_autocast():
    # The first probe usually runs inside a forward under autocast; it must not fail there
    # (it once did, and every bfloat16 MLP layer fell back to a 2x slower kernel).
    outside = mkldnn_linear_available(torch.bfloat16)
    mkldnn_linear_available.cache_clear()
    try:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            assert mkldnn_linear_available(torch.bfloat16) == outside
            assert mkldnn_linear_available(torch.float32) == torch.backends.mkldnn.is_available()
    finally:
        mkldnn_linear_available.cache_clear()


@pytest.mark.parametrize('name', sorted(HEADS))
def test_folded_projection_is_exact_at_the_border(name):
    # A part given as the input of a linear layer (bias included) folds into the conv exactly,
    # also where the 3x3 zero padding reaches past the border (the bias must vanish there too).
    head = HEADS[name]().double()
    gen = torch.Generator().manual_seed(0)
    layer = torch.nn.Linear(5, 4).double()
    torch.nn.init.normal_(layer.bias, std=3.0, generator=gen)
    app = torch.randn(2, 2, 7, 9, generator=gen, dtype=torch.float64, requires_grad=True)
    hid = torch.randn(2, 5, 7, 9, generator=gen, dtype=torch.float64, requires_grad=True)
    explicit = head.project(torch.cat([app, F.linear(hid.movedim(1, -1), layer.weight,
                                                     layer.bias).movedim(-1, 1)], 1))
    folded = folded_projection(head, [(app, None), (hid, layer)])
    torch.testing.assert_close(folded, explicit, rtol=1e-12, atol=1e-12)
    weights = torch.randn(explicit.shape, generator=gen, dtype=torch.float64)
    grads = []
    for y in (explicit, folded):
        for t in [app, hid] + list(layer.parameters()) + list(head.parameters()):
            t.grad = None
        (y * weights).sum().backward()
        grads.append([t.grad.clone() for t in [app, hid, layer.weight, layer.bias]]
                     + [p.grad.clone() for p in head.parameters() if p.grad is not None])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    with pytest.raises(ShapeError, match='parts give'):
        folded_projection(head, [(hid, layer)])
