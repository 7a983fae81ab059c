"""tools/seg_eval.py end to end with a toy model, a toy labelled dataset and a tiny random CLIP.

The toy model reads each pixel's class from the image and emits the CLIP text embedding of that
class as its feature; "without SIR" it sees the masked image (the hole reads as class 0), "with
SIR" it completes the hole perfectly. So the tool must report mIoU 1 with SIR, and less without.
"""
import json

import pytest
import torch
from mmengine.model import BaseDataPreprocessor, BaseModel

from sair_toolbox.registry import DATASETS, MODELS
from sair_toolbox.structures.inpaint_data_sample import InpaintDataSample

from tests.tiny_clip import save_tiny_clip
from tests.test_tools import load_tool

TINY_CLIP = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
)
CLASSES = ('background', 'skin', 'hair')
SIZE = 16


@DATASETS.register_module(force=True)
class SegEvalToyDataset(torch.utils.data.Dataset):
    """Label maps of vertical stripes; the red channel stores label * 100; one box hole each."""

    METAINFO = dict(classes=CLASSES)

    def __init__(self, num_samples=3, test_mode=True):
        self.num_samples = num_samples
        self.metainfo = dict(self.METAINFO)

    def __len__(self):
        return self.num_samples

    def __getitem__(self, idx):
        gt = (torch.arange(SIZE)[None].expand(SIZE, SIZE) // 6 + idx) % len(CLASSES)
        img = torch.zeros(3, SIZE, SIZE, dtype=torch.uint8)
        img[0] = (gt * 100).to(torch.uint8)
        mask = torch.zeros(1, SIZE, SIZE)
        mask[:, 3:11, 4:12] = 1
        ds = InpaintDataSample(metainfo=dict(img_path=f'{idx}.png', mask_bin='20-40'))
        ds.mask = mask
        ds.gt_sem_seg = gt.clone()
        return dict(inputs=img, data_samples=ds)


@MODELS.register_module(force=True)
class SegEvalToyPreprocessor(BaseDataPreprocessor):

    def forward(self, data, training=False):
        data = self.cast_data(data)
        return dict(inputs=torch.stack(data['inputs']).float() / 255,
                    data_samples=data['data_samples'])


@MODELS.register_module(force=True)
class SegEvalToyModel(BaseModel):

    def __init__(self, sir, classes):
        super().__init__(data_preprocessor=dict(type='SegEvalToyPreprocessor'))
        from sair_toolbox.models.text_embedder import CLIPTextEmbedder
        enc = {k: v for k, v in sir['encoder'].items() if k != 'type'}
        self.register_buffer('text', CLIPTextEmbedder(**enc).embed(list(classes)),
                             persistent=False)
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        raise NotImplementedError

    def semantic_features(self, inputs, masks, use_sir=True, size=None):
        assert float(self.scale) == 2.0, 'the checkpoint was not loaded'
        img = inputs if use_sir else inputs * (1 - masks)
        labels = torch.round(img[:, 0] * 255 / 100).long().clamp(0, len(CLASSES) - 1)
        feats = self.text[labels].permute(0, 3, 1, 2) * self.scale
        return torch.nn.functional.interpolate(feats, size=size, mode='nearest')


@pytest.fixture(scope='module')
def tiny_clip(tmp_path_factory):
    pytest.importorskip('open_clip')
    return save_tiny_clip(tmp_path_factory.mktemp('clip'), seed=0, model_cfg=TINY_CLIP)[0]


def _write_config(tmp_path, clip_path):
    cfg = tmp_path / 'seg_toy.py'
    cfg.write_text(
        "default_scope = 'sair_toolbox'\n"
        f"model = dict(type='SegEvalToyModel', classes={CLASSES!r},\n"
        f"             sir=dict(encoder=dict(type='MaskCLIPEncoder', arch='ViT-B-16',\n"
        f"                                   pretrained={clip_path!r},\n"
        f"                                   model_cfg={TINY_CLIP!r})))\n"
        "test_dataloader = dict(batch_size=2, num_workers=0,\n"
        "    sampler=dict(type='DefaultSampler', shuffle=False),\n"
        "    collate_fn=dict(type='pseudo_collate'),\n"
        "    dataset=dict(type='SegEvalToyDataset', num_samples=3))\n")
    return str(cfg)


def test_seg_eval_cli(tmp_path, tiny_clip, capsys):
    cfg = _write_config(tmp_path, tiny_clip)
    ckpt = tmp_path / 'toy.pth'
    torch.save({'state_dict': {'scale': torch.full((1, ), 2.0)}, 'meta': {}}, ckpt)
    out = tmp_path / 'seg.json'
    result = load_tool('seg_eval').main([cfg, str(ckpt), '--out', str(out), '--device', 'cpu'])
    printed = capsys.readouterr().out
    assert 'with SIR' in printed and 'without SIR' in printed and '3 images, 3 classes' in printed
    assert result['num_images'] == 3 and result['split'] == 'test'
    assert result['with_sir']['all']['mIoU'] == pytest.approx(1.0)
    assert result['with_sir']['hole']['mIoU'] == pytest.approx(1.0)
    assert result['without_sir']['hole']['mIoU'] < result['without_sir']['all']['mIoU'] < 1.0
    saved = json.loads(out.read_text())
    assert saved['with_sir']['all']['classes'] == list(CLASSES)
    assert saved['without_sir']['hole']['mIoU'] == pytest.approx(
        result['without_sir']['hole']['mIoU'])

    # one-line errors: missing checkpoint, missing split
    with pytest.raises(SystemExit) as info:
        load_tool('seg_eval').main([cfg, str(tmp_path / 'none.pth')])
    assert info.value.code == 2
    assert 'none.pth does not exist' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        load_tool('seg_eval').main([cfg, str(ckpt), '--split', 'val'])
    assert 'has no val_dataloader' in capsys.readouterr().err
