"""Timing, memory and model-building helpers shared by the benchmark suites.

Wall times are medians of repeated calls (``time.perf_counter``); memory is the rise of the
resident set during a call, read from Linux's ``/proc/self`` counters, since torch's CPU allocator
keeps no peak counter. :func:`build_random_model` builds a config's model with random weights.
"""
import os.path as osp
import statistics
import time
from typing import Any, Callable, Mapping, Optional, Tuple

#: Repository root (the suites' configs live in ``<root>/configs``).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def build_random_model(config: str, options: Mapping[str, Any]):
    """A config's model with random weights, initialised from seed 0.

    Args:
        config: config path.
        options: ``merge_from_dict`` overrides (e.g. ``pretrained=None`` for the encoders, so
            that nothing is read from disk).

    Returns:
        ``(model, cfg)``: the built, initialised model and the merged config.
    """
    import logging
    import warnings

    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from sair_toolbox.engine.setup import register_all_modules
    from sair_toolbox.registry import MODELS
    register_all_modules()
    MMLogger.get_current_instance().setLevel(logging.ERROR)  # the random-weights warning
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(dict(options))
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(cfg.model)
    model.init_weights()
    return model, cfg


def median_time(fn: Callable[[], Any], repeat: int) -> Tuple[float, Any]:
    """Median wall time of ``repeat`` calls of ``fn`` and the last call's result.

    Args:
        fn: The call to time (no arguments).
        repeat: Number of timed calls, >= 1.

    Returns:
        ``(seconds, result)``: the median wall time in seconds and what the last call returned.
    """
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _proc_status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise OSError(f'{field} not in /proc/self/status')


def peak_memory_mib(fn: Callable[[], Any]) -> Optional[float]:
    """Rise of the resident set during ``fn()`` (MiB), or None where Linux's counters are absent.

    Free heap pages are first returned to the OS (``malloc_trim``; the tools' allocator tuning
    otherwise keeps them, and the run would reuse them unseen), then the peak-RSS counter is reset
    to the current RSS (``/proc/self/clear_refs``) and read after the run: the memory the run
    needs on top of what is live (model, inputs). torch's CPU allocator has no peak counter.

    Args:
        fn: The call to measure (no arguments); it runs once.

    Returns:
        The peak resident set during the call minus the resident set before it, in MiB; None
        (and ``fn`` not called) where ``/proc/self`` or ``libc.so.6`` is unavailable.
    """
    import ctypes
    import gc
    try:
        gc.collect()
        ctypes.CDLL('libc.so.6').malloc_trim(0)
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        before = _proc_status_kib('VmRSS')
    except OSError:
        return None
    fn()
    return (_proc_status_kib('VmHWM') - before) / 1024
