"""Process-level settings that need no registered component.

``tune_cpu_allocator`` (glibc's allocator kept from returning memory to the OS) and
``release_dataloader_workers`` (a finished Runner's persistent workers stopped at once). Registering
the components and building a Runner import the packages above ``utils``, so they live in
:mod:`sair_toolbox.engine.setup`.
"""


#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def tune_cpu_allocator() -> bool:
    """Keep freed memory in the process instead of returning it to the OS (glibc only).

    The implicit heads allocate large activation tensors of varying size every iteration. By
    default glibc serves each allocation above its mmap threshold with a fresh ``mmap`` and
    unmaps it on free, so every iteration page-faults its whole working set again. On the
    2-core CPU machines this project measures on, that made a demo training step take 9 s
    instead of 0.34 s (``tools/benchmark.py --allocator`` shows the effect). Disabling mmap
    for large blocks and raising the trim threshold lets the heap reuse them, as jemalloc or
    tcmalloc would. Set ``SAIR_NO_MALLOC_TUNING=1`` to leave the allocator alone.

    Returns:
        Whether the settings were applied (False on non-glibc platforms or when disabled).
    """
    import ctypes
    import os
    import sys
    if os.environ.get('SAIR_NO_MALLOC_TUNING') or not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL('libc.so.6')
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):
        return False


def release_dataloader_workers(runner) -> int:
    """Stop the worker processes of a finished Runner's dataloaders now.

    With ``persistent_workers=True`` the workers outlive the loops. Left to the garbage
    collector (a later Runner in the same process: ``tools/demo_tables.py``), the iterator is
    finalised after parts of its queues, its workers never get the stop message and each one
    costs the 5 s join timeout before it is killed (measured: 30 s per demo run). Shutting them
    down while the Runner is intact takes milliseconds. Loops that were never built are skipped;
    the loaders stay usable (iterating one again starts new workers).

    Args:
        runner (mmengine.runner.Runner): a Runner whose loops have finished.

    Returns:
        int: the number of dataloader iterators shut down.
    """
    from mmengine.runner import BaseLoop
    from torch.utils.data import DataLoader
    count = 0
    for name in ('_train_loop', '_val_loop', '_test_loop'):
        loop = getattr(runner, name, None)
        if not isinstance(loop, BaseLoop):
            continue
        # The DataLoader keeps its persistent workers' iterator; IterBasedTrainLoop's infinite
        # wrapper holds the training iterator (persistent or not).
        for holder in (getattr(loop, 'dataloader', None),
                       getattr(loop, 'dataloader_iterator', None)):
            iterator = getattr(holder, '_iterator', None)
            if iterator is not None and hasattr(iterator, '_shutdown_workers'):
                if not iterator._shutdown:
                    iterator._shutdown_workers()
                    count += 1
                if isinstance(holder, DataLoader):
                    holder._iterator = None  # iterating the loader again starts new workers
    return count
