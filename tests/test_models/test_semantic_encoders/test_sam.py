"""SAMEncoder with a tiny ImageEncoderViT (no weights, no network)."""
import copy

import pytest
import torch
import torch.nn.functional as F

from sair_toolbox.models.semantic_encoders.sam import SAMEncoder
from sair_toolbox.registry import SEMANTIC_ENCODERS
from sair_toolbox.utils.errors import ConfigError, WeightsNotFoundError, one_line

# Native 64x64 input (4x4 patches), window 2 (windowed block 0 pads odd grids), global block 1.
TINY = dict(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1,), window_size=2)
PIXEL_MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
PIXEL_STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def _random_state(img_size=64, seed=0):
    """A random encoder state dict (SAM zero-inits its position tables; randomise everything)."""
    with pytest.warns(UserWarning):
        enc = SAMEncoder(img_size=img_size, model_cfg=TINY)
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=gen) * 0.1 + (1.0 if k.endswith('norm1.weight')
                                                            else 0.0)
            for k, v in enc.image_encoder.state_dict().items()}


@pytest.fixture(scope='module')
def sam_ckpt(tmp_path_factory):
    """A full-SAM-style checkpoint: encoder keys prefixed 'image_encoder.', plus other parts."""
    state = _random_state()
    full = {'image_encoder.' + k: v for k, v in state.items()}
    full['mask_decoder.iou_token.weight'] = torch.zeros(1, 256)
    full['prompt_encoder.not_a_point_embed.weight'] = torch.zeros(1, 256)
    path = tmp_path_factory.mktemp('sam') / 'sam_tiny.pth'
    torch.save(full, path)
    return str(path), state


@pytest.fixture(scope='module')
def encoder(sam_ckpt):
    return SAMEncoder(checkpoint=sam_ckpt[0], img_size=64, model_cfg=TINY)


def _sam_forward(image_encoder, img):
    """SAM's own ImageEncoderViT.forward on SAM-normalised input."""
    return image_encoder((img * 255 - PIXEL_MEAN) / PIXEL_STD)


def test_loads_full_sam_checkpoint(encoder, sam_ckpt):
    for key, value in encoder.image_encoder.state_dict().items():
        assert torch.equal(value, sam_ckpt[1][key]), key


def test_loads_encoder_only_state_dict(tmp_path, sam_ckpt):
    path = tmp_path / 'encoder_only.pth'
    torch.save(sam_ckpt[1], path)
    enc = SAMEncoder(checkpoint=str(path), img_size=64, model_cfg=TINY)
    assert torch.equal(enc.image_encoder.pos_embed, sam_ckpt[1]['pos_embed'])


def test_native_size_matches_sam_forward(encoder):
    img = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    pos = encoder.image_encoder.pos_embed
    assert torch.equal(encoder.pos_embed(4, 4), pos)  # no resize at the native size
    with torch.no_grad():
        out = encoder(img)
        ref = _sam_forward(encoder.image_encoder, img)
    assert out.shape == (2, 256, 4, 4)
    assert torch.allclose(out, ref, atol=1e-5)


@pytest.mark.parametrize('size', [(96, 48), (80, 112)])
def test_other_sizes_match_sam_with_resized_pos_embed(encoder, size):
    """At other sizes: SAM's own forward with its 4x4 embedding resized bicubically (the
    windowed block pads, the global block interpolates its relative-position tables)."""
    img = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(2))
    h, w = size[0] // 16, size[1] // 16
    ref_encoder = copy.deepcopy(encoder.image_encoder)
    pos = ref_encoder.pos_embed.data.permute(0, 3, 1, 2)
    pos = F.interpolate(pos, size=(h, w), mode='bicubic', align_corners=False)
    ref_encoder.pos_embed = torch.nn.Parameter(pos.permute(0, 2, 3, 1))
    with torch.no_grad():
        out = encoder(img)
        ref = _sam_forward(ref_encoder, img)
    assert out.shape == (1, 256, h, w)
    assert torch.allclose(out, ref, atol=1e-5)


def test_non_multiple_input(encoder):
    with torch.no_grad():
        out = encoder(torch.rand(1, 3, 70, 41))  # round(70/16)=4, round(41/16)=3
    assert out.shape == (1, 256, 4, 3)


def test_frozen_and_eval(encoder):
    encoder.train()
    assert not encoder.training
    assert not any(m.training for m in encoder.modules())
    assert not any(p.requires_grad for p in encoder.parameters())
    assert encoder.out_channels == 256 and encoder.patch_size == 16


def test_missing_checkpoint():
    missing = '/nonexistent/sam/sam_vit_b_01ec64.pth'
    with pytest.raises(WeightsNotFoundError) as info:
        SAMEncoder(arch='vit_b', checkpoint=missing)
    msg = str(info.value)
    assert one_line(info.value) == msg
    assert missing in msg and 'segment_anything/sam_vit_b_01ec64.pth' in msg
    with pytest.raises(WeightsNotFoundError, match='sam_vit_h_4b8939.pth'):
        SAMEncoder(arch='vit_h', checkpoint='/nonexistent/x.pth')


def test_random_init_warns():
    with pytest.warns(UserWarning, match='meaningless without pretrained weights'):
        enc = SAMEncoder(img_size=64, model_cfg=TINY)
    assert enc.checkpoint is None


def test_checkpoint_resized_to_img_size(sam_ckpt):
    """A checkpoint made for 64x64 inputs loaded into an img_size=32 encoder."""
    enc = SAMEncoder(checkpoint=sam_ckpt[0], img_size=32, model_cfg=TINY)
    state = sam_ckpt[1]
    pos = F.interpolate(state['pos_embed'].permute(0, 3, 1, 2), size=(2, 2), mode='bicubic',
                        align_corners=False).permute(0, 2, 3, 1)
    assert torch.allclose(enc.image_encoder.pos_embed, pos)
    rel = enc.image_encoder.blocks[1].attn.rel_pos_h  # global block: 2 * 2 - 1 rows
    assert rel.shape == (3, 16)
    windowed = enc.image_encoder.blocks[0].attn.rel_pos_h  # depends on the window only
    assert torch.equal(windowed, state['blocks.0.attn.rel_pos_h'])
    with torch.no_grad():
        assert enc(torch.rand(1, 3, 32, 32)).shape == (1, 256, 2, 2)


def test_checkpoint_for_another_arch(sam_ckpt):
    cfg = dict(TINY, embed_dim=48)
    with pytest.raises(ConfigError, match='does not fit'):
        SAMEncoder(checkpoint=sam_ckpt[0], img_size=64, model_cfg=cfg)


def test_bad_config():
    with pytest.raises(ConfigError, match='arch'):
        SAMEncoder(arch='vit_x')
    with pytest.raises(ConfigError, match='unknown keys'):
        SAMEncoder(model_cfg=dict(depthh=2))


def test_registry_build(sam_ckpt):
    enc = SEMANTIC_ENCODERS.build(dict(type='SAMEncoder', checkpoint=sam_ckpt[0], img_size=64,
                                       model_cfg=TINY))
    assert isinstance(enc, SAMEncoder)
