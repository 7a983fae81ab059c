"""A private random stream for a dataset's pipeline (exact resume, model RNG left untouched).

MMEngine's ``IterBasedTrainLoop`` resumes by re-iterating the dataloader for the iterations
already done, so the samples (and their random masks, crops and flips) are loaded again. For the
resumed run to see exactly the data of the original run, the pipeline's randomness must depend on
nothing but its own history -- in particular not on the global RNG that the model also draws from
(query-point sampling, dropout) in the main process when ``num_workers=0``.

:class:`DataRNG` keeps NumPy, Python ``random`` and torch CPU generator states of its own, created
lazily from ``(data_seed, rank, worker id)``. :meth:`DataRNG.activate` swaps them in for the
duration of a block (the pipeline call), saves them back and restores the global ones, so:

* the global RNG is bit-identical before and after ``dataset[i]``;
* a fresh dataset with the same seed gives the same sequence, whatever else used the global RNG;
* third-party transforms (MMCV's use ``np.random``) are deterministic too.

Each dataloader worker process gets its own stream (the worker id is part of the seed), created
at the worker's first sample; a stream created in the main process is never inherited because the
key ``(rank, worker id)`` differs.
"""
import contextlib
import random
from typing import Optional, Tuple

import numpy as np
import torch


def _current_key() -> Tuple[int, int]:
    """``(rank, worker id + 1)``; worker 0 means "main process" (no dataloader worker)."""
    from mmengine.dist import get_rank
    info = torch.utils.data.get_worker_info()
    return int(get_rank()), (0 if info is None else int(info.id) + 1)


class DataRNG:
    """NumPy / ``random`` / torch-CPU generator states private to one dataset.

    Args:
        seed: the data seed; together with rank and worker id it fixes the stream.
    """

    def __init__(self, seed: int = 0):
        self.seed = int(seed)
        self._key: Optional[Tuple[int, int]] = None
        self._states = None

    def _fresh_states(self, key: Tuple[int, int]):
        ss = np.random.SeedSequence([self.seed, key[0], key[1]])
        np_seed, py_seed, torch_seed = (int(s) for s in ss.generate_state(3, dtype=np.uint32))
        np_state = np.random.RandomState(np_seed).get_state()
        py_state = random.Random(py_seed).getstate()
        torch_state = torch.Generator().manual_seed(torch_seed).get_state()
        return np_state, py_state, torch_state

    def reset(self) -> None:
        """Forget the stream; the next :meth:`activate` starts it afresh."""
        self._key, self._states = None, None

    @contextlib.contextmanager
    def activate(self):
        """Run the block with this stream as the global NumPy/``random``/torch-CPU RNG."""
        key = _current_key()
        if self._states is None or key != self._key:
            self._key, self._states = key, self._fresh_states(key)
        saved = (np.random.get_state(), random.getstate(), torch.get_rng_state())
        np.random.set_state(self._states[0])
        random.setstate(self._states[1])
        torch.set_rng_state(self._states[2])
        try:
            yield
        finally:
            self._states = (np.random.get_state(), random.getstate(), torch.get_rng_state())
            np.random.set_state(saved[0])
            random.setstate(saved[1])
            torch.set_rng_state(saved[2])

    def __getstate__(self):
        # Pickled into dataloader workers: the stream restarts there (its key differs anyway).
        return {'seed': self.seed, '_key': None, '_states': None}
