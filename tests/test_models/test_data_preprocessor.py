import pytest
import torch

from sair_toolbox.models.data_preprocessor import InpaintDataPreprocessor, stack_masks
from sair_toolbox.structures import InpaintDataSample
from sair_toolbox.utils.errors import DataError, ShapeError


def _sample(h=8, w=8, mask=None, path='img_0.png'):
    s = InpaintDataSample(metainfo=dict(img_path=path))
    s.mask = mask if mask is not None else (torch.rand(1, h, w) > 0.5).float()
    return s


def test_stacks_uint8_to_unit_range():
    pre = InpaintDataPreprocessor()
    imgs = [torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8) for _ in range(2)]
    samples = [_sample(), _sample()]
    out = pre(dict(inputs=imgs, data_samples=samples))
    assert out['inputs'].shape == (2, 3, 8, 8) and out['inputs'].dtype == torch.float32
    assert torch.allclose(out['inputs'][0] * 255, imgs[0].float())
    assert stack_masks(out['data_samples']).shape == (2, 1, 8, 8)


def test_mask_size_mismatch_names_the_image():
    pre = InpaintDataPreprocessor()
    img = torch.zeros(3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ShapeError, match=r'does not match its image.*photo\.png'):
        pre(dict(inputs=[img], data_samples=[_sample(4, 8, path='photo.png')]))


def test_non_binary_mask_is_refused():
    pre = InpaintDataPreprocessor()
    img = torch.zeros(3, 8, 8, dtype=torch.uint8)
    with pytest.raises(DataError, match='not binary'):
        pre(dict(inputs=[img], data_samples=[_sample(mask=torch.full((1, 8, 8), 0.5))]))


def test_grayscale_tensor_is_refused():
    pre = InpaintDataPreprocessor()
    with pytest.raises(ShapeError, match=r'\(3, H, W\) RGB'):
        pre(dict(inputs=[torch.zeros(1, 8, 8, dtype=torch.uint8)], data_samples=[_sample()]))
