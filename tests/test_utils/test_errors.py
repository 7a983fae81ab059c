"""One-line messages, including errors raised inside DataLoader worker processes."""
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from sair_toolbox.utils.errors import DataError, one_line


class _Broken(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        raise DataError(f'image /data/x_{index}.png is 1x1 pixels; at least 8x8 are needed')


def test_worker_traceback_is_dropped():
    # torch re-raises a worker's exception as the same type with the whole traceback as message.
    with pytest.raises(DataError) as info:
        next(iter(DataLoader(_Broken(), batch_size=1, num_workers=1)))
    assert 'Traceback' in str(info.value)
    assert one_line(info.value) == 'image /data/x_0.png is 1x1 pixels; at least 8x8 are needed'


def test_plain_messages_are_folded():
    assert one_line(DataError('a\n  b')) == 'a b'
    assert one_line(DataError('')) == 'DataError'
    assert one_line(ValueError('Caught nothing: x')) == 'Caught nothing: x'
