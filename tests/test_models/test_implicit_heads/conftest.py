import pytest
import torch


@pytest.fixture(autouse=True, scope='module')
def single_thread():
    # Tiny tensors: one thread avoids OpenMP barrier stalls when the 2 cores are shared.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
