"""A tiny inpainting model and dataset (and test hooks) for testing the training infrastructure.

They follow the project's data contract (packed samples with ``inputs`` uint8 (3, H, W) and an
:class:`InpaintDataSample` carrying a float ``mask`` (1, H, W), 1 = missing) so that the tools
treat them exactly like the real components, but they build and train in milliseconds.

The config scores it with the project's ``InpaintingMetric`` (without LPIPS).

The model deliberately draws from every global RNG that a real model may use (torch for the query
subset and dropout, numpy and Python ``random`` for a loss weight), so that a resumed run only
matches a straight run if all of them are restored. The dataset draws from none of them: each
sample is a function of its index (like the real datasets' isolated RNG streams).

``DumpRankWeightsHook`` lets the distributed tests compare the weights every rank ends with.

Imported by configs through ``custom_imports`` (``tests.test_engine.toy_components``).
"""
import os.path as osp
import random
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import BaseDataPreprocessor, BaseModel, is_model_wrapper

from sair_toolbox.registry import DATASETS, HOOKS, MODELS
from sair_toolbox.structures.inpaint_data_sample import InpaintDataSample
from sair_toolbox.utils.errors import DataError


@DATASETS.register_module(force=True)
class ToyInpaintDataset(torch.utils.data.Dataset):
    """Procedural images and box masks; sample ``i`` is the same on every run and every rank.

    Args:
        data_root (str): must be an existing directory (checked like a real dataset's root).
        num_samples (int): dataset length.
        size (int): image side H = W.
        seed (int): seed of the per-index generator.
    """

    METAINFO = dict(name='toy')

    def __init__(self, data_root: str, num_samples: int = 8, size: int = 16, seed: int = 0,
                 pipeline: Optional[list] = None, test_mode: bool = False):
        if not osp.isdir(data_root):
            raise DataError(f'data_root {data_root!r} is not a directory')
        self.data_root = data_root
        self.num_samples = num_samples
        self.size = size
        self.seed = seed
        self.metainfo = dict(self.METAINFO)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, idx: int) -> dict:
        g = torch.Generator().manual_seed(self.seed * 100003 + idx)
        s = self.size
        img = (torch.rand(3, s, s, generator=g) * 255).to(torch.uint8)
        mask = torch.zeros(1, s, s)
        h, w = (int(v) for v in torch.randint(2, s // 2 + 1, (2,), generator=g))
        y, x = (int(v) for v in torch.randint(0, s - s // 2, (2,), generator=g))
        mask[:, y:y + h, x:x + w] = 1.0
        ratio = float(mask.mean())
        sample = InpaintDataSample(
            metainfo=dict(img_path=f'toy_{idx}.png', ori_shape=(s, s), sample_idx=idx,
                          mask_ratio=ratio, mask_bin='0-20' if ratio <= 0.2 else '20-40',
                          mask_source='toy'))
        sample.mask = mask
        return dict(inputs=img, data_samples=sample)


@MODELS.register_module(force=True)
class ToyInpaintPreprocessor(BaseDataPreprocessor):
    """Stacks uint8 images to float (B, 3, H, W) in [0, 1] and masks to (B, 1, H, W)."""

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = torch.stack(list(data['inputs'])).float() / 255.0
        return dict(inputs=inputs, data_samples=data['data_samples'])


@MODELS.register_module(force=True)
class ToyInpaintModel(BaseModel):
    """Two convolutions over ``cat(I * (1 - M), M)``, L1 on a random subset of pixels.

    Args:
        channels (int): hidden channels.
        num_queries (int): pixels per image in the loss, drawn with the global torch RNG.
    """

    def __init__(self, channels: int = 8, num_queries: int = 32,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='ToyInpaintPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.num_queries = num_queries
        self.conv1 = nn.Conv2d(4, channels, 3, padding=1)
        self.drop = nn.Dropout(0.2)
        self.conv2 = nn.Conv2d(channels, 3, 3, padding=1)

    def _predict(self, img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.cat([img * (1 - mask), mask], dim=1)
        return torch.sigmoid(self.conv2(self.drop(F.relu(self.conv1(x)))))

    def forward(self, inputs: torch.Tensor, data_samples: Sequence[InpaintDataSample] = None,
                mode: str = 'tensor'):
        mask = torch.stack([ds.mask for ds in data_samples]).to(inputs)
        pred = self._predict(inputs, mask)
        if mode == 'tensor':
            return pred
        if mode == 'loss':
            b, _, h, w = pred.shape
            idx = torch.randint(0, h * w, (b, self.num_queries), device=pred.device)
            p = pred.flatten(2).gather(2, idx[:, None].expand(-1, 3, -1))
            t = inputs.flatten(2).gather(2, idx[:, None].expand(-1, 3, -1))
            weight = 1.0 + 0.1 * float(np.random.rand()) + 0.1 * random.random()
            return dict(loss_l1=weight * F.l1_loss(p, t))
        if mode == 'predict':
            out = inputs * (1 - mask) + pred * mask
            for ds, gt, pr, oi in zip(data_samples, inputs, pred, out):
                ds.gt_img, ds.pred_img, ds.output_img = gt, pr, oi
            return list(data_samples)
        raise ValueError(f'unknown mode {mode!r}')


@HOOKS.register_module(force=True)
class DumpRankWeightsHook(Hook):
    """After training, every rank saves ``work_dir/rank{r}.pth``.

    The file holds ``dict(rank, world_size, iter, state_dict)`` (state dict of the unwrapped model).
    """

    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        rank, world_size = get_dist_info()
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        torch.save(dict(rank=rank, world_size=world_size, iter=runner.iter, state_dict=state),
                   osp.join(runner.work_dir, f'rank{rank}.pth'))


@HOOKS.register_module(force=True)
class StopTrainingHook(Hook):
    """Ends training after ``stop_after`` iterations, like a job killed after a checkpoint."""

    priority = 'LOWEST'

    def __init__(self, stop_after: int) -> None:
        self.stop_after = stop_after

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 >= self.stop_after:
            runner.train_loop.stop_training = True
