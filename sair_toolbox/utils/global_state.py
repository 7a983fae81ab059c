"""Leave the process's global random and threading state as found (for on-the-fly work).

A weights provider that pretrains or downloads on first use (``DemoCLIPWeights``) runs in the
middle of building a model. Whatever it draws from the global RNGs, or changes in torch's thread
and determinism settings, would make the model built on a first run (cache absent) differ from
the one built later (cache present) with the same seed. :func:`preserved_global_state` puts all
of it back:

* torch's CPU generator (``torch.get_rng_state``; its ``initial_seed`` is part of it) and the
  generators of every CUDA device *already initialised* on entry (CUDA is never initialised
  here; a body that initialises it itself starts its devices from their default seeds);
* numpy's global ``RandomState`` (``np.random.get_state``);
* Python's ``random``;
* ``torch.get_num_threads()`` and ``torch.are_deterministic_algorithms_enabled()`` with its
  ``warn_only`` flag.
"""
import contextlib
import random
from typing import Iterator

import numpy as np
import torch


@contextlib.contextmanager
def preserved_global_state() -> Iterator[None]:
    """Restore the global RNGs, the thread count and the determinism flags on exit.

    Restores also when the body raises. Seeding inside the block (``torch.manual_seed``) is
    undone too, so the block may seed freely.

    Example::

        with preserved_global_state():
            weights = pretrain(...)   # draws from torch's RNG, sets 2 threads
        # torch.get_rng_state(), np.random.get_state(), random.getstate(),
        # torch.get_num_threads() are as before
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cuda_devices = (list(range(torch.cuda.device_count()))
                    if torch.cuda.is_available() and torch.cuda.is_initialized() else [])
    try:
        with torch.random.fork_rng(devices=cuda_devices):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if (torch.are_deterministic_algorithms_enabled() != deterministic
                or torch.is_deterministic_algorithms_warn_only_enabled() != warn_only):
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
