"""The holes and photos suites at tiny sizes: masks, tables, the CLI rows, IOPaint's crop plan and
the LaMa path with a stand-in generator (LaMa itself is not needed: its rows skip in one line)."""
import numpy as np
import pytest
import torch

from sair_toolbox.experiments.benchmarks import photos
from sair_toolbox.experiments.benchmarks.holes import (box_and_strokes, holes_benchmark,
                                                       holes_markdown)


class StandIn(torch.nn.Module):
    """A LaMa-shaped generator: (1, 4, H, W) -> (1, 3, H, W) in [0, 1]; records its inputs."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3, 4, 1, 1))
        self.seen = []

    def forward(self, x):
        self.seen.append(tuple(x.shape))
        return torch.sigmoid(torch.nn.functional.conv2d(x, self.w)) * 0 + 0.5


@pytest.mark.parametrize('fraction', [0.01, 0.1, 0.5])
def test_box_and_strokes_reaches_the_fraction_deterministically(fraction):
    a = box_and_strokes(120, 160, fraction, seed=3)
    assert a.shape == (120, 160) and set(np.unique(a)) <= {0.0, 1.0}
    assert fraction <= a.mean() < fraction + 0.05
    assert np.array_equal(a, box_and_strokes(120, 160, fraction, seed=3))
    assert not np.array_equal(a, box_and_strokes(120, 160, fraction, seed=4))


def test_holes_benchmark_times_both_methods_and_they_are_bitwise_equal(capsys, tmp_path):
    out = holes_benchmark(1, size=32, fractions=(0.1, 0.5), quick=True, precisions=('fp32', ),
                          results=str(tmp_path))
    text = capsys.readouterr().out
    assert 'hole/full' in text and "precision 'auto' picks" in text
    assert [r['fraction'] for r in out['rows']] == [0.1, 0.5]
    assert all(r['equal'] and r['max_diff'] == 0 and r['full_s'] > 0 for r in out['rows'])
    md = (tmp_path / 'holes.md').read_text()
    assert md == holes_markdown(out) and '| fp32 | 10.' in md and 'CPU:' in md
    assert (tmp_path / 'holes.json').is_file()


def test_iopaint_crops_margin_border_shift_and_one_crop_per_component():
    hole = np.zeros((1000, 2000), np.float32)
    hole[400:500, 900:1100] = 1  # inside: box + 128 px each side
    hole[0:10, 0:10] = 1  # corner: shifted inside, as much context as fits
    hole[990:1000, 1990:2000] = 1  # opposite corner
    crops = sorted(photos.iopaint_crops(hole, margin=128))
    assert crops == [(0, 266, 0, 266), (272, 628, 772, 1228), (734, 1000, 1734, 2000)]
    small = np.zeros((100, 100), np.float32)
    small[40:60, 40:60] = 1
    assert photos.iopaint_crops(small, margin=128) == [(0, 100, 0, 100)]  # clipped


def test_lama_inpaint_pads_to_8_writes_only_the_hole_and_crops_large_photos():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 900, 3), dtype=np.uint8)
    hole = np.zeros((40, 900), np.float32)
    hole[10:20, 100:130] = 1
    hole[5:9, 700:702] = 1
    gen = StandIn()
    out, boxes = photos.lama_inpaint(gen, rgb, hole, margin=16)
    assert boxes == photos.iopaint_crops(hole, 16) and len(boxes) == 2  # 900 > 800: crops
    assert all(s[2] % 8 == 0 and s[3] % 8 == 0 and s[1] == 4 for s in gen.seen)
    assert sorted((s[2], s[3]) for s in gen.seen) == [(40, 40), (40, 64)]  # 34x36, 62x40 padded
    known = hole == 0
    assert np.array_equal(out[known], rgb[known]) and (out[~known] == 128).all()
    gen.seen.clear()
    out, boxes = photos.lama_inpaint(gen, rgb[:, :500], hole[:, :500], margin=16)
    assert boxes == [(0, 40, 0, 500)] and gen.seen == [(1, 4, 40, 504)]  # whole: <= 800


def test_load_lama_says_why_in_one_line(tmp_path):
    builder, msg = photos.load_lama(None)
    assert builder is None and msg.startswith('LaMa rows skipped: no --lama-repo')
    builder, msg = photos.load_lama(str(tmp_path))
    assert builder is None and 'not a checkout of advimman/lama' in msg
    pkg = tmp_path / 'saicinpainting'
    (pkg / 'training' / 'modules').mkdir(parents=True)
    for d in (pkg, pkg / 'training', pkg / 'training' / 'modules'):
        (d / '__init__.py').write_text('')
    (pkg / 'training' / 'modules' / 'ffc.py').write_text('import kornia_not_here\n')
    import sys
    try:
        builder, msg = photos.load_lama(str(tmp_path))
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith('saicinpainting')]:
            del sys.modules[name]
    assert builder is None and '\n' not in msg
    assert msg.startswith(f'LaMa rows skipped: cannot import LaMa from {tmp_path}')
    assert 'kornia_not_here' in msg


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    from tests.tiny_sair import save_tiny_sair
    return save_tiny_sair(tmp_path_factory.mktemp('tiny'))


def test_side_by_side_runs_sair_and_the_stand_in_on_the_same_photos(tiny, capsys):
    from sair_toolbox.apis import SAIRInferencer
    inf = SAIRInferencer(*tiny, device='cpu', precision='fp32', working_size=16)
    rgb = photos.draw_photo(40, 900, 0)
    hole = np.zeros((40, 900), np.float32)
    hole[10:20, 100:130] = 1
    alone = photos.draw_photo(32, 32, 0)
    gen = StandIn()
    rows = photos.side_by_side(1, [('strip', rgb, hole)],
                               [('alone', alone, box_and_strokes(32, 32, 0.125))],
                               [('paper', 'SAIR tiny', inf)], lama=gen, memory=False)
    text = capsys.readouterr().out
    assert 'LaMa-style generator, IOPaint Crop' in text and 'SAIR tiny, crop' in text
    by = {(r['case'], r['method']): r for r in rows}
    assert set(by) == {('strip', 'paper'), ('strip', 'lama'), ('alone', 'paper'),
                       ('alone', 'lama')}
    assert by['strip', 'lama']['ratio'] == 1 and by['strip', 'paper']['ratio'] > 0
    assert by['strip', 'lama']['regions'] == ['286x40']  # 30 px + 2 x 128, clipped to 40
    assert by['strip', 'paper']['how'] == 'crop' and by['alone', 'paper']['how'] == 'whole'
    assert by['strip', 'paper']['regions'] == ['60x40->16x8']  # 2 x 30 px, clipped to 40


def test_photos_benchmark_without_lama_skips_its_rows_in_one_line(tiny, capsys, tmp_path):
    out = photos.photos_benchmark(1, lama_repo=None, demo=False, paper=tiny, cli=False,
                                  cases=[('t', 48, 64, 0.05)], alone=[('a', 32, 0.125)],
                                  extra_kwargs=dict(working_size=16), results=str(tmp_path))
    text = capsys.readouterr().out
    assert 'LaMa rows skipped: no --lama-repo given' in text
    assert {r['method'] for r in out['side_by_side']} == {'paper'}
    md = (tmp_path / 'photos.md').read_text()
    assert 'LaMa rows skipped' in md and '| t 64x48 (5% hole) | paper, ' in md
    assert 'avx512_bf16' in md and (tmp_path / 'photos.json').is_file()


def test_cli_benchmark_times_the_cli_and_breaks_the_time_down(tiny, capsys, tmp_path):
    img, mask = photos.write_photo_case(str(tmp_path), 'p', 40, 60, 0.05)
    rows = photos.cli_benchmark(str(tmp_path), [('p', img, mask, 0.05)],
                                [('demo', 'tiny', *tiny)], formats=('png', ), full=False,
                                extra_args=['--working-size', '16'],
                                extra_kwargs=dict(working_size=16))
    text = capsys.readouterr().out
    run, parts = rows
    assert run['rc'] == 0 and run['wall_s'] > 0 and run['max_rss_mib'] > 50, run['last']
    assert 'strategy resize' in run['last'] or 'strategy crop' in run['last']
    assert (tmp_path / 'demo_p_auto.png').is_file()
    b = parts['breakdown']
    assert parts['rc'] == 0 and b['inpaint'] > 0 and b['png'] >= 0 and parts['startup'] > 0
    assert 'breakdown (s): start' in text
    assert (tmp_path / 'demo_p_breakdown.png').is_file()
    assert (tmp_path / 'demo_p_breakdown.jpg').is_file()


def test_targets_text_says_met_or_missed():
    rows = [dict(model='demo', case='12mp', strategy='auto', format='png', rc=0, wall_s=5.0,
                 max_rss_mib=2000.0),
            dict(model='paper', case='12mp', strategy='auto', format='png', rc=0, wall_s=19.0,
                 max_rss_mib=5000.0)]
    assert photos.targets_text(rows) == [
        'target demo on 12mp: <= 6 s: 5.0 s (met); <= 1.5 GB: 1.95 GiB (missed)',
        'target paper on 12mp: <= 20 s: 19.0 s (met)']
