"""The precision suite (``tools/benchmark.py --suite precision``) at tiny sizes: the CPU kind, what
'auto' picks and why, both cases in fp32 and bf16 with their ratio."""
import pytest

import sair_toolbox.utils.precision as precision_mod
from sair_toolbox.experiments.benchmarks.precision import CPU_FLAGS, precision_benchmark


@pytest.mark.parametrize('native', [True, False])
def test_precision_benchmark_prints_cpu_kind_choice_and_both_precisions(capsys, monkeypatch,
                                                                        native):
    monkeypatch.setattr(precision_mod, 'cpu_bf16_supported', lambda: native)
    result = precision_benchmark(1, size=32, quick=True)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.startswith('CPU: ') for line in lines)
    flags = next(line for line in lines if line.startswith('CPU flags: '))
    assert all(f'{flag} ' in flags for flag in CPU_FLAGS)  # avx512_bf16, amx_bf16, ...
    yes_no = 'yes' if native else 'no'
    assert f'oneDNN native bf16 (torch.ops.mkldnn._is_mkldnn_bf16_supported): {yes_no}' in lines
    picked = 'bf16' if native else 'fp32'
    assert f'auto picks: precision auto -> {picked}: ' in out
    assert result['cpu']['auto'][0] == picked and result['cpu']['onednn_bf16'] is native
    assert 'fp32 ms' in out and 'bf16 ms' in out and 'bf16/fp32' in out
    for key, label in (('demo_step', 'demo training step'),
                       ('paper_infer', 'paper inference S -> S (S = 32)')):
        row = next(line for line in lines if line.startswith(label))
        case = result[key]
        assert case['fp32'] > 0 and case['bf16'] > 0
        assert case['ratio'] == pytest.approx(case['bf16'] / case['fp32'])
        assert f'{case["ratio"]:.2f}x' in row
        assert case['max_diff'] < 0.1  # the same computation, bf16 rounding at most
    assert any(line.startswith('faster here: demo step ') and f'auto picks {picked}' in line
               for line in lines)
