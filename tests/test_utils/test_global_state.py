"""preserved_global_state: RNGs, thread count and determinism flags come back as found."""
import random

import numpy as np
import pytest
import torch

from sair_toolbox.utils.global_state import preserved_global_state


def _snapshot():
    return (torch.get_rng_state(), torch.initial_seed(), np.random.get_state(), random.getstate(),
            torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled())


def _assert_same(a, b):
    assert torch.equal(a[0], b[0]) and a[1] == b[1]
    assert a[2][0] == b[2][0] and np.array_equal(a[2][1], b[2][1]) and a[2][2:] == b[2][2:]
    assert a[3:] == b[3:]


def _disturb():
    torch.manual_seed(99)
    torch.rand(5)
    np.random.seed(1)
    np.random.rand(3)
    random.seed(2)
    random.random()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)


@pytest.mark.parametrize('fail', [False, True])
def test_everything_is_restored(fail):
    threads = torch.get_num_threads()
    torch.manual_seed(3)
    before = _snapshot()
    expected_next = torch.rand(4)  # what the caller would draw next
    torch.set_rng_state(before[0])
    try:
        with pytest.raises(RuntimeError) if fail else preserved_global_state():
            with preserved_global_state():
                _disturb()
                if fail:
                    raise RuntimeError('inside')
        _assert_same(before, _snapshot())
        assert torch.equal(torch.rand(4), expected_next)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(False)
