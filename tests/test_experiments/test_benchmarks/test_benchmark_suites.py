"""The benchmark suites called as functions (the CLI end to end: test_tools/test_benchmark.py)."""
import pytest

from sair_toolbox.experiments.benchmarks.allocators import compare_allocators, strip_allocator
from sair_toolbox.experiments.benchmarks.demo_step import demo_step_benchmark
from sair_toolbox.experiments.benchmarks.heads import build_cases, heads_benchmark
from sair_toolbox.experiments.benchmarks.linear import linear_benchmark
from sair_toolbox.utils.errors import ConfigError


def test_build_cases_keys_and_sizes():
    cases = build_cases(32)
    assert [c[0] for c in cases] == ['liif_sir_x16', 'liif_air_x1', 'liif_air_x1_noprune',
                                     'liif_air_x1.5', 'lte_air_x1', 'lte_air_x1.5']
    assert cases[0][3:5] == ((2, 2), (32, 32)) and cases[3][4] == (48, 48)
    with pytest.raises(ConfigError, match='--size must be >= 16'):
        build_cases(8)


def test_heads_benchmark_rejects_unknown_case():
    with pytest.raises(ConfigError, match='unknown case'):
        heads_benchmark(32, 1, cases=['nope'])


def test_linear_benchmark_prints_every_kernel(capsys):
    linear_benchmark(1, quick=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith('linear kernels (4096 x 256') and 'median of 5' in lines[0]
    assert len(lines) == 7
    assert all(line.endswith(tuple('0123456789')) or 'unavailable' in line for line in lines[1:])


def test_strip_allocator():
    assert strip_allocator(['--quick', '--allocator', 'compare', '--suite', 'heads',
                            '--allocator=glibc']) == ['--quick', '--suite', 'heads']


def test_compare_allocators_runs_both_modes(tmp_path, capfd):
    script = tmp_path / 'echo_args.py'
    script.write_text('import sys\nprint(" ".join(sys.argv[1:]))\n')
    compare_allocators(str(script), ['--quick', '--allocator', 'compare'])
    out = capfd.readouterr().out.splitlines()
    assert out == ['== allocator: glibc', '--quick --allocator glibc',
                   '== allocator: tuned', '--quick --allocator tuned']


def test_compare_allocators_reports_a_failed_run(tmp_path):
    script = tmp_path / 'fail.py'
    script.write_text('import sys\nsys.exit(3)\n')
    with pytest.raises(ConfigError, match=r'--allocator glibc run failed \(exit 3\)'):
        compare_allocators(str(script), [])


def test_demo_step_benchmark_prints_both_layouts_and_equal_losses(capsys):
    result = demo_step_benchmark(1, quick=True, steps_per_round=2)
    out = capsys.readouterr().out
    assert 'NCHW' in out and 'NHWC' in out and 'vs NCHW' in out
    assert result['NCHW'] > 0 and result['NHWC'] > 0
    # The same steps from the same weights: the layouts differ by float rounding at most.
    assert result['max_loss_diff'] < 1e-2


def test_demo_jobs_benchmark_prints_one_run_and_runs_per_core(capsys):
    from sair_toolbox.experiments.benchmarks.demo_jobs import demo_jobs_benchmark
    result = demo_jobs_benchmark(2, warmup=1, quick=True, cpus=2)
    out = capsys.readouterr().out
    assert '1 x 2' in out and '2 x 1' in out and 'vs 1 run' in out
    assert result['cpus'] == 2 and result['one_run'] > 0 and result['per_core'] > 0
    assert result['ratio'] == result['per_core'] / result['one_run']


def test_encoder_benchmark_prints_both_paths_with_equal_outputs(capsys):
    from sair_toolbox.experiments.benchmarks.encoder import encoder_benchmark
    result = encoder_benchmark(64, 1, quick=True)
    out = capsys.readouterr().out
    assert 'open_clip' in out and 'batch-first' in out and 'bf16' in out
    for precision in ('fp32', 'bf16'):
        assert result[precision]['open_clip'] > 0 and result[precision]['batch_first'] > 0
        assert result[precision]['max_diff'] < 1e-2  # the same outputs (float rounding at most)
