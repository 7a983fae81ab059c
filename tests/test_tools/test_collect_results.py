"""tools/collect_results.py: one comparison table from several result files."""
import csv
import os
import os.path as osp
import subprocess
import sys

import pytest

from sair_toolbox.evaluation.results_table import write_results
from tests.test_tools import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'collect_results.py')


def _metrics(psnr):
    out = {}
    for b, n in (('0-20', 2), ('20-40', 3), ('40-60', 1), ('all', 6)):
        out.update({f'{b}/PSNR': psnr, f'{b}/SSIM': 0.9, f'{b}/L1': 0.02, f'{b}/LPIPS': 0.05,
                    f'{b}/count': n, f'{b}/input_PSNR': 8.0})
        psnr -= 3
    return out


@pytest.fixture
def results(tmp_path):
    a, _ = write_results(_metrics(36.0), str(tmp_path / 'a.json'),
                         config='configs/sair/liif_celebahq.py')
    b, _ = write_results({f'inpaint/{k}': v for k, v in _metrics(38.0).items()},
                         str(tmp_path / 'b.json'))  # prefixed keys, no config -> file stem
    return a, b


def test_table_rows_named_by_config_or_stem(results, capsys):
    tool = load_tool('collect_results')
    table = tool.main(list(results))
    out = capsys.readouterr().out
    assert table in out
    rows = [line.split('|') for line in table.splitlines() if '|' in line][2:]
    assert [r[0].strip() for r in rows] == ['liif_celebahq', 'b']
    assert rows[0][1].split() == ['36.00', '0.900', '0.0200', '0.050', '2']
    assert rows[1][4].split()[0] == '29.00'  # 'All' group of b


def test_names_input_rows_and_outputs(results, tmp_path, capsys):
    tool = load_tool('collect_results')
    md = tmp_path / 'table.md'
    table = tool.main(list(results) + ['--names', 'LIIF', 'SAIR', '--out', str(md), '--input'])
    assert 'SAIR (masked input)' in table and ' 8.00 ' in table
    text = md.read_text()
    assert text.startswith('| Method | 0%-20% PSNR↑') and '| SAIR | 38.00 |' in text
    out_csv = tmp_path / 'table.csv'
    tool.main(list(results) + ['--names', 'LIIF', 'SAIR', '--out', str(out_csv)])
    with open(out_csv, newline='') as f:
        rows = list(csv.DictReader(f))
    assert [r['name'] for r in rows] == ['LIIF', 'SAIR']
    assert float(rows[1]['0-20/PSNR']) == 38.0 and rows[0]['all/count'] == '6'


def test_errors_are_one_line(results, tmp_path, capsys):
    tool = load_tool('collect_results')
    missing = str(tmp_path / 'nope.json')
    with pytest.raises(SystemExit) as info:
        tool.main([results[0], missing])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'error: result file' in err and missing in err
    bad = tmp_path / 'bad.json'
    bad.write_text('not json')
    with pytest.raises(SystemExit):
        tool.main([str(bad)])
    assert 'is not valid JSON' in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        tool.main(list(results) + ['--names', 'only-one'])
    assert info.value.code == 2 and '--names got 1 names for 2' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(list(results) + ['--out', str(tmp_path / 'table.txt')])
    assert '.md or .csv' in capsys.readouterr().err


def test_runs_as_a_script(results):
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable, TOOL, results[0], '/nonexistent/x.json'],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ('collect_results.py: error: result file /nonexistent/x.json '
                                   'does not exist')
