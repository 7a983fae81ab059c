"""tools/benchmark.py --quick runs end to end and reports fast vs reference for every case."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_quick_prints_ratios():
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'benchmark.py'), '--quick', '--threads', '1'],
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
