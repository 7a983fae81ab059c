"""Result tables (paper Tab. 1/2 layout) and result files."""
import csv
import json
import math

import pytest

from sair_toolbox.evaluation.results_table import (format_comparison, format_table, load_results,
                                                   parse_metrics, write_results)
from sair_toolbox.utils.errors import DataError

#: The SAIR row of the paper's Tab. 1 (CelebA-HQ), with counts, as the metric would report it.
SAIR_TAB1 = {
    '0-20/PSNR': 37.97, '0-20/SSIM': 0.977, '0-20/L1': 0.010, '0-20/LPIPS': 0.016,
    '0-20/count': 1000,
    '20-40/PSNR': 31.49, '20-40/SSIM': 0.944, '20-40/L1': 0.019, '20-40/LPIPS': 0.025,
    '20-40/count': 2000,
    '40-60/PSNR': 24.87, '40-60/SSIM': 0.870, '40-60/L1': 0.031, '40-60/LPIPS': 0.124,
    '40-60/count': 2000,
    'all/PSNR': 30.5, 'all/SSIM': 0.92, 'all/L1': 0.02, 'all/LPIPS': 0.06, 'all/count': 5000,
}


def test_parse_metrics_with_and_without_prefix():
    prefixed = {f'inpaint/{k}': v for k, v in SAIR_TAB1.items()}
    prefixed['inpaint/40-60/input_PSNR'] = 9.5
    prefixed['lr'] = 1e-4  # not a bin metric: ignored
    parsed = parse_metrics(prefixed)
    assert list(parsed) == ['0-20', '20-40', '40-60', 'all']
    assert parsed['20-40'] == {'PSNR': 31.49, 'SSIM': 0.944, 'L1': 0.019, 'LPIPS': 0.025,
                               'count': 2000}
    assert parsed['40-60']['input_PSNR'] == 9.5
    assert parse_metrics(SAIR_TAB1) == parse_metrics({f'inpaint/{k}': v
                                                      for k, v in SAIR_TAB1.items()})


def test_format_table_layout():
    text = format_table({f'inpaint/{k}': v for k, v in SAIR_TAB1.items()}, title='SAIR')
    lines = text.splitlines()
    assert lines[0] == 'SAIR'
    groups = lines[2]
    assert [g.strip() for g in groups.split('|')] == ['Method', '0%-20%', '20%-40%', '40%-60%',
                                                       'All']
    assert lines[3].split('|')[1].split() == ['PSNR↑', 'SSIM↑', 'L1↓', 'LPIPS↓', 'n']
    row = lines[5].split('|')
    assert row[0].strip() == 'output'
    assert row[1].split() == ['37.97', '0.977', '0.0100', '0.016', '1000']
    assert row[4].split() == ['30.50', '0.920', '0.0200', '0.060', '5000']
    # every column lines up under its header
    assert len({len(line) for line in lines[2:6]}) <= 2


def test_format_table_missing_metrics_and_masked_input_row():
    metrics = {'0-20/PSNR': 30.0, '0-20/count': 3, 'all/PSNR': 29.0, 'all/count': 3,
               'all/input_PSNR': 10.0, '0-20/input_PSNR': 11.0}
    text = format_table(metrics)
    assert 'LPIPS' not in text and 'SSIM' not in text
    rows = {line.split('|')[0].strip(): line for line in text.splitlines() if '|' in line}
    assert rows['masked input'].split('|')[1].split() == ['11.00', '3']
    assert rows['output'].split('|')[2].split() == ['29.00', '3']
    with pytest.raises(DataError, match='no metrics'):
        format_table({'lr': 0.1})


def test_comparison_rows_and_markdown():
    liif = {k: (v - 1 if k.endswith('PSNR') else v) for k, v in SAIR_TAB1.items()}
    text = format_comparison([('LIIF', liif), ('SAIR', SAIR_TAB1)], title='CelebA-HQ')
    lines = text.splitlines()
    assert [line.split('|')[0].strip() for line in lines[5:7]] == ['LIIF', 'SAIR']
    assert lines[5].split('|')[1].split()[0] == '36.97'
    md = format_comparison([('LIIF', liif), ('SAIR', SAIR_TAB1)], style='markdown')
    md_lines = md.splitlines()
    assert md_lines[0].startswith('| Method | 0%-20% PSNR↑ | 0%-20% SSIM↑ | 0%-20% L1↓ |')
    assert md_lines[3].startswith('| SAIR | 37.97 | 0.977 | 0.0100 | 0.016 | 1000 |')


def test_write_and_load_results(tmp_path):
    metrics = {f'inpaint/{k}': v for k, v in SAIR_TAB1.items()}
    metrics['inpaint/all/input_PSNR'] = 9.0
    metrics['inpaint/0-20/PSNR'] = math.inf  # a perfect reconstruction survives the round trip
    json_path, csv_path = write_results(metrics, str(tmp_path / 'res.json'),
                                        config='configs/sair/sair_celebahq.py',
                                        checkpoint='work_dirs/iter_1000.pth')
    assert json_path == str(tmp_path / 'res.json') and csv_path == str(tmp_path / 'res.csv')
    doc = load_results(json_path)
    assert doc['metrics'] == metrics
    assert doc['bins']['20-40']['SSIM'] == 0.944 and doc['bins']['all']['input_PSNR'] == 9.0
    assert doc['config'] == 'configs/sair/sair_celebahq.py'
    assert doc['checkpoint'] == 'work_dirs/iter_1000.pth' and 'created' in doc
    with open(csv_path, newline='') as f:
        rows = list(csv.DictReader(f))
    assert [r['bin'] for r in rows] == ['0-20', '20-40', '40-60', 'all']
    assert list(rows[0])[:6] == ['bin', 'count', 'PSNR', 'SSIM', 'L1', 'LPIPS']
    assert float(rows[1]['PSNR']) == 31.49 and rows[3]['count'] == '5000'
    assert rows[3]['input_PSNR'] == '9.0' and rows[0]['input_PSNR'] == ''


def test_load_results_errors_and_flat_json(tmp_path):
    with pytest.raises(DataError, match='does not exist'):
        load_results(str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"all/PSNR": 3')
    with pytest.raises(DataError, match='not valid JSON'):
        load_results(str(bad))
    empty = tmp_path / 'empty.json'
    empty.write_text(json.dumps({'metrics': {'lr': 1}}))
    with pytest.raises(DataError, match='holds no metrics'):
        load_results(str(empty))
    flat = tmp_path / 'flat.json'
    flat.write_text(json.dumps({'all/PSNR': 30.0, 'all/count': 2}))
    doc = load_results(str(flat))
    assert doc['bins'] == {'all': {'PSNR': 30.0, 'count': 2}} and doc['config'] is None
