"""Zero-shot labels from text-aligned features: the one helper behind every label map."""
import math

import pytest
import torch
import torch.nn.functional as F

from sair_toolbox.evaluation.segmentation import SegmentationMIoU
from sair_toolbox.models.zero_shot import (confusion_counts, labels_from_features,
                                           resize_features, scores_from_confusion,
                                           semantic_encoder_cfg, zero_shot_labels)
from sair_toolbox.utils.errors import ConfigError, ShapeError
from sair_toolbox.utils.jsonable import jsonable

L, C = 4, 8  # classes, embedding channels


def _text():
    g = torch.Generator().manual_seed(0)
    return torch.randn(L, C, generator=g) * 3  # deliberately not unit norm


def test_labels_from_features_is_cosine_argmax():
    g = torch.Generator().manual_seed(1)
    text = _text()
    feats = torch.randn(2, C, 5, 6, generator=g)
    labels = labels_from_features(feats, text)
    assert labels.shape == (2, 5, 6) and labels.dtype == torch.int64
    t = text / text.norm(dim=1, keepdim=True)
    for b in range(2):
        for y in range(5):
            for x in range(6):
                f = feats[b, :, y, x]
                cos = (t @ f) / f.norm()
                assert labels[b, y, x] == int(cos.argmax())
    # invariant to a positive per-pixel scale of the features
    scale = torch.rand(2, 1, 5, 6, generator=g) * 10 + 0.1
    assert torch.equal(labels_from_features(feats * scale, text), labels)
    with pytest.raises(ShapeError, match='share c'):
        labels_from_features(feats, text[:, :4])


def test_zero_shot_labels_is_encode_resize_label():
    g = torch.Generator().manual_seed(2)
    weight = torch.randn(C, 3, 4, 4, generator=g)

    def encoder(img):  # a patch-4 "semantic encoder": (B, 3, 16, 16) -> (B, C, 4, 4)
        return F.conv2d(img, weight, stride=4)

    imgs = torch.rand(2, 3, 16, 16, generator=g)
    text = _text()
    labels = zero_shot_labels(encoder, imgs, text)
    feats = F.interpolate(encoder(imgs), size=(16, 16), mode='bilinear', align_corners=False)
    assert torch.equal(labels, labels_from_features(feats, text))
    assert labels.shape == (2, 16, 16)
    assert torch.equal(resize_features(encoder(imgs), (16, 16)), feats)


def test_scores_from_confusion_match_the_metric():
    g = torch.Generator().manual_seed(3)
    pred = torch.randint(0, L, (3, 7, 9), generator=g)
    gt = torch.randint(0, L - 1, (3, 7, 9), generator=g)  # class L-1 only predicted
    meter = SegmentationMIoU(L)
    meter.update(pred, gt)
    confusion = confusion_counts(pred.flatten(), gt.flatten(), L)
    assert torch.equal(confusion, meter.confusion)
    assert jsonable(scores_from_confusion(confusion)) == jsonable(meter.compute())  # nan-safe
    empty = scores_from_confusion(torch.zeros(L, L, dtype=torch.int64))
    assert math.isnan(empty['mIoU']) and empty['num_pixels'] == 0


def test_semantic_encoder_cfg_lookup():
    clip = dict(type='MaskCLIPEncoder', arch='ViT-B-16', pretrained='openai')
    assert semantic_encoder_cfg(dict(type='SAIR', sir=dict(encoder=clip, head={}))) == clip
    assert semantic_encoder_cfg(dict(semantic_encoder=clip)) == clip
    with pytest.raises(ConfigError, match='no semantic encoder'):
        semantic_encoder_cfg(dict(type='SAIR', sir=None))
    with pytest.raises(ConfigError, match='SAMEncoder'):
        semantic_encoder_cfg(dict(sir=dict(encoder=dict(type='SAMEncoder', arch='vit_b'))))
