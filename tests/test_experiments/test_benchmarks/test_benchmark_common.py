"""The benchmark suites' timing and memory helpers."""
import numpy as np

from sair_toolbox.experiments.benchmarks.common import median_time, peak_memory_mib


def test_median_time_calls_repeat_times_and_returns_last_result():
    calls = []

    def fn():
        calls.append(len(calls))
        return len(calls)

    seconds, out = median_time(fn, 3)
    assert len(calls) == 3 and out == 3
    assert seconds >= 0


def test_peak_memory_sees_a_temporary_allocation():
    def fn():
        arr = np.ones(8 * 2**20, dtype=np.float32)  # 32 MiB, touched, freed on return
        return float(arr[-1])

    peak = peak_memory_mib(fn)
    if peak is None:  # no /proc/self counters (not Linux)
        return
    assert peak > 16
