"""SAIRInferencer: inputs of every kind, outputs, label maps, one-line errors before building."""
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from sair_toolbox.apis import InpaintResult, SAIRInferencer
from sair_toolbox.utils.errors import ConfigError, DataError, SAIRError
from tests.tiny_sair import ROOT, TINY_CLASSES, TINY_PALETTE, save_tiny_sair


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return save_tiny_sair(tmp_path_factory.mktemp('tiny_sair'))


@pytest.fixture(scope='module')
def inferencer(tiny):
    # Exact float32 numbers below (the model's own fp32 calls); 'auto' is pinned separately.
    inf = SAIRInferencer(*tiny, device='cpu', precision='fp32')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random-init warnings of the tiny CLIP
        inf.model, inf.class_embeddings
    return inf


def _pair(h=20, w=28, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[5:12, 8:20] = 255
    return img, mask


def test_import_is_cheap():
    code = ('import sys; from sair_toolbox.apis import SAIRInferencer; '
            'print(sorted(m for m in ("mmengine", "open_clip", "gradio", "sair_toolbox.models") '
            'if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    assert out.stdout.strip() == '[]'


def test_paths_arrays_and_pil_give_the_same_output(inferencer, tmp_path):
    img, mask = _pair()
    Image.fromarray(img).save(tmp_path / 'img.png')
    Image.fromarray(mask).save(tmp_path / 'mask.png')
    from_files = inferencer(str(tmp_path / 'img.png'), str(tmp_path / 'mask.png'))
    from_arrays = inferencer(img, mask > 0)
    from_pil = inferencer(Image.fromarray(img), Image.fromarray(mask))
    assert isinstance(from_files, InpaintResult)
    for result in (from_arrays, from_pil):
        assert np.array_equal(result.output, from_files.output)
    out = from_files.output
    assert out.dtype == np.uint8 and out.shape == (20, 28, 3)
    hole = mask > 0
    assert np.array_equal(out[~hole], img[~hole])  # composite: known pixels kept
    assert np.array_equal(from_files.masked[hole], np.zeros((hole.sum(), 3), np.uint8))
    # float images in [0, 1] are the same picture
    assert np.array_equal(inferencer(img / 255.0, mask).output, out)


def test_output_size_scale_and_batches(inferencer):
    img, mask = _pair()
    assert inferencer(img, mask, scale=2).output.shape == (40, 56, 3)
    assert inferencer(img, mask, size=(33, 17)).output.shape == (33, 17, 3)
    img2, _ = _pair(seed=1)
    results = inferencer([img, img2], mask, scale=1.5, progress=False)
    assert [r.output.shape for r in results] == [(30, 42, 3)] * 2
    assert not np.array_equal(results[0].output, results[1].output)


def test_label_maps_from_checkpoint_meta(inferencer):
    img, mask = _pair()
    result = inferencer(img, mask)
    assert inferencer.class_names == list(TINY_CLASSES)
    assert result.class_names == list(TINY_CLASSES)
    assert np.array_equal(result.palette, np.array(TINY_PALETTE, np.uint8))
    for labels, colors in ((result.labels_masked, result.colors_masked),
                           (result.labels_sir, result.colors_sir)):
        assert labels.shape == (20, 28) and labels.dtype == np.int64
        assert labels.min() >= 0 and labels.max() < len(TINY_CLASSES)
        assert np.array_equal(colors, result.palette[labels])
    # The maps are the model's own semantic features labelled against the class texts.
    from sair_toolbox.visualization import zero_shot_label_map
    model = inferencer.model
    t_img = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    t_mask = torch.from_numpy(mask > 0).float()[None, None]
    classes = inferencer.class_embeddings
    for use_sir, labels in ((False, result.labels_masked), (True, result.labels_sir)):
        feats = model.semantic_features(t_img, t_mask, use_sir=use_sir)
        assert np.array_equal(zero_shot_label_map(feats, classes)[0].numpy(), labels)
    assert inferencer(img, mask, labels=False).labels_sir is None


def test_user_class_names_override_the_checkpoint(tiny):
    inf = SAIRInferencer(*tiny, device='cpu', class_names=['a', 'b'])
    assert inf.class_names == ['a', 'b'] and inf.palette.shape == (2, 3)


def _never_build(monkeypatch):
    def fail(self):
        raise AssertionError('the model was built before the inputs were checked')
    monkeypatch.setattr(SAIRInferencer, '_build_model', fail)


@pytest.mark.parametrize('case,expect', [
    ('missing', 'image file not found'),
    ('not_an_image', 'not an image file'),
    ('corrupt', 'corrupt or truncated'),
    ('mismatch', 'is 10x10 but image'),
    ('one_pixel', 'is 1x1 pixels; SAIR needs at least 8x8'),
    ('bad_array', 'has shape (20, 28, 5)'),
])
def test_bad_inputs_are_one_line_before_the_model_is_built(tiny, tmp_path, monkeypatch, case,
                                                           expect):
    _never_build(monkeypatch)
    inf = SAIRInferencer(*tiny, device='cpu')
    img, mask = _pair()
    good_img, good_mask = tmp_path / 'img.png', tmp_path / 'mask.png'
    Image.fromarray(img).save(good_img)
    Image.fromarray(mask).save(good_mask)
    args = [str(good_img), str(good_mask)]
    if case == 'missing':
        args[0] = str(tmp_path / 'nope.png')
    elif case == 'not_an_image':
        (tmp_path / 'notes.png').write_text('hello')
        args[0] = str(tmp_path / 'notes.png')
    elif case == 'corrupt':
        data = good_img.read_bytes()
        (tmp_path / 'cut.png').write_bytes(data[:len(data) // 2])
        args[0] = str(tmp_path / 'cut.png')
    elif case == 'mismatch':
        args[1] = np.zeros((10, 10), np.uint8)
    elif case == 'one_pixel':
        args = [np.zeros((1, 1, 3), np.uint8), np.ones((1, 1), bool)]
    else:
        args[0] = np.zeros((20, 28, 5), np.uint8)
    # In a batch the bad pair is found before the good ones are inpainted.
    with pytest.raises(DataError) as info:
        inf([str(good_img), args[0]], [str(good_mask), args[1]])
    msg = str(info.value)
    assert '\n' not in msg and expect in msg


@pytest.mark.parametrize('content', [b'', b'model = dict(type="SAIR")\n', 'truncated'])
def test_not_a_checkpoint_is_one_line(tiny, tmp_path, content):
    path = tmp_path / 'bad.pth'
    if content == 'truncated':
        data = open(tiny[1], 'rb').read()
        content = data[:len(data) // 3]
    path.write_bytes(content)
    with pytest.raises(SAIRError) as info:
        SAIRInferencer(tiny[0], str(path), device='cpu')
    assert '\n' not in str(info.value) and 'bad.pth' in str(info.value)


def test_bad_options_are_one_line(tiny, tmp_path):
    with pytest.raises(ConfigError, match='precision must be one of'):
        SAIRInferencer(*tiny, device='cpu', precision='fp8')
    with pytest.raises(ConfigError, match='does not exist'):
        SAIRInferencer(str(tmp_path / 'none.py'), tiny[1])
    with pytest.raises(ConfigError, match='last_checkpoint'):
        SAIRInferencer(tiny[0], None)
    with pytest.raises(ConfigError, match='scale'):
        SAIRInferencer(*tiny, device='cpu', guidance=dict(scale='huge'))
    with pytest.raises(ConfigError, match='scale must be one of'):
        SAIRInferencer(*tiny, device='cpu')(*_pair(), text='water', guidance_scale='huge')
    wrong = tmp_path / 'wrong.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}}, wrong)
    with pytest.raises(DataError, match='does not fit'):
        SAIRInferencer(tiny[0], str(wrong), device='cpu')(*_pair())


def test_bf16_is_close_to_fp32(tiny, inferencer):
    img, mask = _pair()
    bf16 = SAIRInferencer(*tiny, device='cpu', precision='bf16')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        low = bf16(img, mask, scale=2)
    full = inferencer(img, mask, scale=2)
    assert low.output.dtype == np.uint8 and low.output.shape == full.output.shape
    # bfloat16 autocast keeps 8 mantissa bits: a few grey levels at most on this tiny model
    assert np.abs(low.output.astype(int) - full.output.astype(int)).max() <= 4


@pytest.mark.parametrize('native,expected', [(True, 'bf16'), (False, 'fp32')])
def test_default_precision_is_auto_and_follows_the_cpu(tiny, monkeypatch, native, expected):
    import sair_toolbox.utils.precision as precision_mod
    monkeypatch.setattr(precision_mod, 'cpu_bf16_supported', lambda: native)
    inf = SAIRInferencer(*tiny, device='cpu')
    assert inf.precision == expected
    assert inf.precision_reason.startswith("this CPU's oneDNN has " + ('' if native else 'no '))
    forced = SAIRInferencer(*tiny, device='cpu', precision='bf16')
    assert (forced.precision, forced.precision_reason) == ('bf16', 'requested explicitly')
