"""MaskCLIPEncoder and the offline CLIP weight resolution (tiny open_clip models, no network)."""
import copy
import os
import time

import pytest
import torch
import torch.nn.functional as F

from sair_toolbox.models.clip_loading import create_clip, resolve_clip_checkpoint
from sair_toolbox.models.semantic_encoders.maskclip import MaskCLIPEncoder
from sair_toolbox.registry import SEMANTIC_ENCODERS
from sair_toolbox.utils.errors import ConfigError, WeightsNotFoundError, one_line

from tests.tiny_clip import TINY_CLIP, save_tiny_clip

TINY = TINY_CLIP
OPENAI_MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
OPENAI_STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    """A tiny CLIP state dict with random (non-default) weights saved to disk."""
    path, model = save_tiny_clip(tmp_path_factory.mktemp('clip'), seed=7)
    return path, model.state_dict()


@pytest.fixture(scope='module')
def encoders(tiny_ckpt):
    path, _ = tiny_ckpt
    return {flag: MaskCLIPEncoder(pretrained=path, model_cfg=TINY, keep_last_residual=flag)
            for flag in (True, False)}


def reference_dense(visual, img, keep_last_residual):
    """MaskCLIP written out from the open_clip module's weights with plain torch ops.

    The last block is run with an attention mask that lets every token attend only to itself:
    softmax then picks exactly the token's own value, so ``attn(ln_1(x))`` becomes
    ``out_proj(v_proj(ln_1(x)))`` computed by ``nn.MultiheadAttention`` itself.
    """
    p = visual.patch_size[0]
    x = (img - OPENAI_MEAN) / OPENAI_STD
    tok = F.conv2d(x, visual.conv1.weight, stride=p)
    b, c, h, w = tok.shape
    tok = tok.flatten(2).transpose(1, 2)
    pos = visual.positional_embedding
    gh, gw = visual.grid_size
    grid = pos[1:].reshape(1, gh, gw, c).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(h, w), mode='bicubic', align_corners=False)
    pos = torch.cat([pos[:1], grid.reshape(c, h * w).t()], dim=0)
    x = torch.cat([visual.class_embedding.expand(b, 1, c), tok], dim=1) + pos
    x = visual.ln_pre(x)
    *blocks, last = visual.transformer.resblocks
    for blk in blocks:
        x = blk(x)
    n = x.shape[1]
    self_only = torch.full((n, n), float('-inf'))
    self_only.fill_diagonal_(0.0)
    if keep_last_residual:
        # Official MaskCLIP: the whole last block, attention restricted to the token itself.
        x = last(x, attn_mask=self_only)
    else:
        y = last.ln_1(x)
        x = last.attn(y, y, y, need_weights=False, attn_mask=self_only)[0]
    z = visual.ln_post(x[:, 1:]) @ visual.proj
    return z.transpose(1, 2).reshape(b, -1, h, w)


@pytest.mark.parametrize('keep_last_residual', [True, False])
@pytest.mark.parametrize('size', [(48, 40), (32, 32)])
def test_dense_matches_reference(encoders, keep_last_residual, size):
    enc = encoders[keep_last_residual]
    img = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = enc(img)
        ref = reference_dense(enc.visual, img, keep_last_residual)
    assert out.shape == (2, 64, size[0] // 8, size[1] // 8)
    assert torch.allclose(out, ref, atol=1e-5, rtol=1e-4), (out - ref).abs().max()


def test_switch_changes_output(encoders):
    img = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        a, b = encoders[True](img), encoders[False](img)
    assert (a - b).abs().max() > 1e-3


def test_pos_embed_native_unchanged_and_resized(encoders):
    enc = encoders[True]
    pos = enc.visual.positional_embedding
    assert torch.equal(enc.pos_embed(4, 4), pos)
    resized = enc.pos_embed(6, 5)
    assert resized.shape == (1 + 30, 64)
    assert torch.equal(resized[0], pos[0])  # class-token row kept
    assert enc.pos_embed(6, 5) is resized  # cached per size


def test_pos_cache_follows_reloaded_weights(tiny_ckpt):
    path, state = tiny_ckpt
    enc = MaskCLIPEncoder(pretrained=path, model_cfg=TINY)
    img = torch.rand(1, 3, 48, 40)
    with torch.no_grad():
        before = enc(img)
        new_state = {k: v.clone() for k, v in enc.state_dict().items()}
        new_state['visual.positional_embedding'] += 0.5
        enc.load_state_dict(new_state)
        after = enc(img)
        ref = reference_dense(enc.visual, img, True)
    assert not torch.allclose(before, after)
    assert torch.allclose(after, ref, atol=1e-5, rtol=1e-4)


def test_loads_local_checkpoint(encoders, tiny_ckpt):
    path, state = tiny_ckpt
    enc = encoders[True]
    assert enc.checkpoint == path
    for key, value in enc.visual.state_dict().items():
        assert torch.equal(value, state['visual.' + key]), key
    assert enc.out_channels == 64 and enc.patch_size == 8


def test_frozen_and_eval(encoders):
    enc = encoders[True]
    enc.train()
    assert not enc.training
    assert not any(m.training for m in enc.modules())
    assert not any(p.requires_grad for p in enc.parameters())
    out = enc(torch.rand(1, 3, 32, 32))
    assert not out.requires_grad


def test_non_multiple_input_size(encoders):
    enc = encoders[True]
    with torch.no_grad():
        out = enc(torch.rand(2, 3, 45, 37))  # round(45/8)=6, round(37/8)=5
        tiny = enc(torch.rand(1, 3, 3, 5))  # at least one patch
    assert out.shape == (2, 64, 6, 5)
    assert tiny.shape == (1, 64, 1, 1)


def test_registry_build(tiny_ckpt):
    enc = SEMANTIC_ENCODERS.build(
        dict(type='MaskCLIPEncoder', pretrained=tiny_ckpt[0], model_cfg=TINY,
             keep_last_residual=False))
    assert isinstance(enc, MaskCLIPEncoder) and not enc.keep_last_residual


def test_random_init_warns():
    with pytest.warns(UserWarning, match='meaningless without pretrained weights'):
        enc = MaskCLIPEncoder(pretrained=None, model_cfg=TINY)
    assert enc.checkpoint is None


def test_random_init_is_reproducible():
    with pytest.warns(UserWarning):
        a, _ = create_clip('ViT-B-16', None, TINY)
        b, _ = create_clip('ViT-B-16', None, TINY)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k


def test_missing_tag_fails_fast_offline(tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    start = time.time()
    with pytest.raises(WeightsNotFoundError) as info:
        MaskCLIPEncoder(arch='ViT-B-16', pretrained='openai', cache_dir=str(tmp_path))
    assert time.time() - start < 5
    msg = str(info.value)
    assert '\n' not in msg and one_line(info.value) == msg
    assert 'ViT-B-16' in msg and "'openai'" in msg
    assert 'vit_base_patch16_clip_224.openai' in msg  # the HF repo to put in the cache
    assert str(tmp_path / 'ViT-B-16.pt') in msg  # or the URL file in the cache folder
    assert 'pretrained=/path/to/open_clip_pytorch_model.bin' in msg


def test_missing_path():
    missing = '/nonexistent/weights/open_clip_pytorch_model.bin'
    with pytest.raises(WeightsNotFoundError, match=missing):
        MaskCLIPEncoder(pretrained=missing, model_cfg=TINY)


def test_unknown_tag():
    with pytest.raises(ConfigError, match='not_a_tag'):
        MaskCLIPEncoder(arch='ViT-B-16', pretrained='not_a_tag')


def _fake_hf_cache(root, repo_id, filename, payload_path):
    folder = root / ('models--' + repo_id.replace('/', '--'))
    snap = folder / 'snapshots' / 'abc123'
    snap.mkdir(parents=True)
    (folder / 'refs').mkdir()
    (folder / 'refs' / 'main').write_text('abc123')
    target = snap / filename
    target.write_bytes(open(payload_path, 'rb').read())
    return target


def test_tag_resolved_from_hf_cache_with_quick_gelu(tmp_path, tiny_ckpt, monkeypatch):
    """A tagged file already in the cache is used; the tag's QuickGELU is applied."""
    from open_clip.transformer import QuickGELU
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    target = _fake_hf_cache(tmp_path, 'timm/vit_base_patch16_clip_224.openai',
                            'open_clip_pytorch_model.bin', tiny_ckpt[0])
    path, tag_cfg = resolve_clip_checkpoint('ViT-B-16', 'openai', cache_dir=str(tmp_path))
    assert os.path.samefile(path, target) and tag_cfg['quick_gelu']
    # model_cfg describes the (tiny) architecture; the tag only locates the weights.
    enc = MaskCLIPEncoder(arch='ViT-B-16', pretrained='openai', model_cfg=TINY,
                          cache_dir=str(tmp_path))
    assert isinstance(enc.visual.transformer.resblocks[0].mlp.gelu, QuickGELU)
    assert torch.equal(enc.visual.proj, tiny_ckpt[1]['visual.proj'])


def test_tag_resolved_from_url_cache(tmp_path, tiny_ckpt):
    url_file = tmp_path / 'ViT-B-16.pt'  # open_clip's download target for the OpenAI URL
    url_file.write_bytes(open(tiny_ckpt[0], 'rb').read())
    path, _ = resolve_clip_checkpoint('ViT-B-16', 'openai', cache_dir=str(tmp_path))
    assert path == str(url_file)


@pytest.mark.filterwarnings('ignore::torch.jit.TracerWarning')
def test_openai_torchscript_checkpoint(tmp_path, tiny_ckpt):
    """OpenAI's .pt files are TorchScript archives (torch.load(weights_only=True) refuses them)."""
    from open_clip.model import CLIP
    from open_clip.transformer import QuickGELU
    model = CLIP(**copy.deepcopy(TINY), quick_gelu=True).eval()
    model.load_state_dict(tiny_ckpt[1])
    traced = torch.jit.trace_module(model, {'encode_image': torch.rand(1, 3, 32, 32)},
                                    check_trace=False)
    path = tmp_path / 'ViT-tiny.pt'
    traced.save(str(path))
    enc = MaskCLIPEncoder(pretrained=str(path), model_cfg=TINY)
    assert isinstance(enc.visual.transformer.resblocks[-1].mlp.gelu, QuickGELU)
    assert torch.equal(enc.visual.conv1.weight, tiny_ckpt[1]['visual.conv1.weight'])


def test_checkpoint_that_does_not_fit(tmp_path, tiny_ckpt):
    cfg = copy.deepcopy(TINY)
    cfg['vision_cfg']['layers'] = 3
    with pytest.raises(ConfigError, match='does not fit'):
        MaskCLIPEncoder(pretrained=tiny_ckpt[0], model_cfg=cfg)


@pytest.mark.parametrize('extra', [dict(attentional_pool=True), dict(qk_norm=True)])
def test_unsupported_variants(extra):
    cfg = copy.deepcopy(TINY)
    cfg['vision_cfg'].update(extra)
    with pytest.warns(UserWarning), pytest.raises(ConfigError, match='MaskCLIPEncoder'):
        MaskCLIPEncoder(pretrained=None, model_cfg=cfg)


@pytest.mark.parametrize('autocast', [False, True])
def test_batch_first_blocks_equal_open_clip_blocks(encoders, autocast):
    """The encoder runs open_clip's blocks batch-first (one q/k/v matrix product) instead of
    calling them; outputs and gradients equal the blocks' own, in float32 and under bfloat16
    autocast (where torch's MultiheadAttention takes its slow, weight-copying path)."""
    enc = encoders[True]
    block = enc.visual.transformer.resblocks[0]
    x = torch.randn(2, 17, 64, generator=torch.Generator().manual_seed(3), requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        ours = enc._block(block, x)
        ref = block(x)
    # bfloat16 keeps 8 bits: one rounding step at |x| ~ 4 is 0.0156.
    tol = dict(atol=2e-2, rtol=1e-2) if autocast else dict(atol=1e-6, rtol=1e-5)
    assert ours.dtype == ref.dtype and torch.allclose(ours.float(), ref.float(), **tol)
    g_ours, = torch.autograd.grad(ours.float().square().sum(), x)
    g_ref, = torch.autograd.grad(ref.float().square().sum(), x)
    # The backward rounds in another order under autocast: compare relative to the norm.
    rel = float((g_ours - g_ref).norm() / g_ref.norm())
    assert rel < (1e-2 if autocast else 1e-6), rel


def test_batch_first_blocks_only_where_open_clip_copies_weights(encoders, monkeypatch):
    """Batch-first blocks under autocast without autograd (the frozen encoder in mixed
    precision); open_clip's blocks in float32 (its fused path) and with autograd (the demo
    CLIP pretraining's bits)."""
    enc = encoders[True]
    calls = []
    real = enc._block
    monkeypatch.setattr(enc, '_block', lambda block, x: calls.append(1) or real(block, x))
    img = torch.rand(2, 3, 32, 32)

    def used(grad, autocast):
        calls.clear()
        with torch.set_grad_enabled(grad), torch.autocast('cpu', dtype=torch.bfloat16,
                                                          enabled=autocast):
            enc.run_blocks(enc.tokens(img))
        return bool(calls)
    assert used(grad=False, autocast=True)
    assert not used(grad=False, autocast=False) and not used(grad=True, autocast=True)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        tokens = enc.tokens(img)
        assert tokens.dtype == torch.bfloat16  # what makes open_clip's attention copy weights
        fast, ref = enc.run_blocks(tokens, False), enc.run_blocks(tokens, True)
    assert torch.allclose(fast.float(), ref.float(), atol=2e-2, rtol=1e-2)
