"""tools/benchmark.py --quick runs end to end and reports fast vs reference for every case, and the
whole-model table its variants against the float32 / explicit-field reference."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_quick_prints_ratios():
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'benchmark.py'), '--quick', '--threads', '1',
         '--suite', 'heads'],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines()
            if re.search(r'\d+\.\d+x\s+\S+e[-+]\d+$', line)]
    names = [row.split('  ')[0].strip() for row in rows]
    assert names == ['LIIF SIR x16', 'LIIF AIR x1', 'LIIF AIR x1 noprune', 'LIIF AIR x1.5',
                     'LTE AIR x1', 'LTE AIR x1.5']
    for row in rows:
        fields = row.split()
        ratio = float(fields[-2].rstrip('x'))
        max_diff = float(fields[-1])
        assert ratio > 0
        assert max_diff < 1e-4, row  # fast path and reference agree


def test_benchmark_quick_model_table():
    # One case (4 child processes) keeps this fast; the other cases run the same code.
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'benchmark.py'), '--quick', '--threads', '1',
         '--suite', 'model', '--model-case', 'infer'],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()
            if line.startswith('inference S -> S')]
    assert [(r[4], r[5]) for r in rows] == [('fp32', 'S'), ('fp32', 'fold'), ('bf16', 'S'),
                                            ('bf16', 'fold')]
    assert all(float(r[6]) > 0 and float(r[7]) >= 0 for r in rows)  # ms, peak MiB
    assert rows[1][9].endswith('x') and rows[2][8].endswith('x') and rows[3][9].endswith('x')
    diffs = [float(r[-1]) for r in rows[1:]]
    assert diffs[0] < 1e-5  # the fold is exact algebra
    assert max(diffs[1:]) < 0.03  # bf16 within the autocast tolerance (test_mixed_precision)
