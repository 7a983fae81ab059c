"""One-line messages, including errors raised inside DataLoader worker processes."""
import pytest
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


def _random_weight_warnings(caught):
    return [w for w in caught if 'no pretrained weights' in str(w.message)]


def test_random_weights_warning_appears_once(monkeypatch):
    # The semantic encoder and text embedders of the same random CLIP (as the segmentation check
    # and the visualization hook build them): the user is told once, through one channel, even
    # when code in between changes the warning filters (which clears Python's own registry).
    import warnings

    from sair_toolbox.models.semantic_encoders.maskclip import MaskCLIPEncoder
    from sair_toolbox.models.text_embedder import CLIPTextEmbedder
    from sair_toolbox.utils import errors
    from tests.tiny_clip import TINY_CLIP
    monkeypatch.setattr(errors, '_WARNED', set())  # as in a fresh process
    tiny = dict(arch='ViT-B-16', pretrained=None, model_cfg=TINY_CLIP)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('default')
        MaskCLIPEncoder(**tiny)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # as MMEngine's dataset code does
        CLIPTextEmbedder(**tiny)
        CLIPTextEmbedder(**tiny)
    shown = _random_weight_warnings(caught)
    assert len(shown) == 1 and 'meaningless without pretrained weights' in str(shown[0].message)
    # A filter that asks for every occurrence (-W always, pytest.warns) gets it again.
    with pytest.warns(UserWarning, match='meaningless without pretrained weights'):
        CLIPTextEmbedder(**tiny)
