"""The dataset's private RNG stream: reproducible, isolated, exact on resume."""
import random

import numpy as np
import torch
from torch.utils.data import DataLoader

from sair_toolbox.datasets.data_rng import DataRNG
from sair_toolbox.registry import DATASETS


def _train_set(root, args, **kw):
    pipe = [dict(type='LoadImage'), dict(type='RandomResizedCrop', size=24),
            dict(type='RandomFlip'), dict(type='GenerateMask'), dict(type='PackInpaintInputs')]
    return DATASETS.build(dict(type='DemoDataset', data_root=root, split='train', pipeline=pipe,
                               **args, **kw))


def _key(sample):
    return (sample['inputs'].numpy().tobytes(), sample['data_samples'].mask.numpy().tobytes())


def _global_states():
    return np.random.get_state()[1].copy(), random.getstate(), torch.get_rng_state().clone()


def _same_states(a, b):
    return np.array_equal(a[0], b[0]) and a[1] == b[1] and torch.equal(a[2], b[2])


def test_two_fresh_datasets_give_the_same_sequence(demo_root, demo_args):
    a, b = _train_set(demo_root, demo_args), _train_set(demo_root, demo_args)
    order = [3, 3, 7, 0, 3]
    seq_a = [_key(a[i]) for i in order]
    # interleave heavy use of every global RNG between the draws of b
    seq_b = []
    for i in order:
        np.random.rand(17)
        random.random()
        torch.rand(5)
        seq_b.append(_key(b[i]))
    assert seq_a == seq_b
    assert seq_a[0] != seq_a[1]  # the same index drawn twice gets a new random mask/crop
    c = _train_set(demo_root, demo_args, data_seed=1)
    assert [_key(c[i]) for i in order] != seq_a


def test_global_rng_untouched(demo_root, demo_args):
    ds = _train_set(demo_root, demo_args)
    np.random.seed(5)
    random.seed(5)
    torch.manual_seed(5)
    before = _global_states()
    for i in range(4):
        ds[i]
    assert _same_states(before, _global_states())
    assert ds._rand_another() in range(len(ds))
    assert _same_states(before, _global_states())


def test_stream_resets_when_key_changes(monkeypatch):
    import sair_toolbox.datasets.data_rng as mod
    rng = DataRNG(seed=3)
    with rng.activate():
        first = np.random.rand()
    monkeypatch.setattr(mod, '_current_key', lambda: (0, 1))  # as if in dataloader worker 0
    with rng.activate():
        in_worker = np.random.rand()
    monkeypatch.setattr(mod, '_current_key', lambda: (1, 0))  # as if on rank 1
    with rng.activate():
        on_rank1 = np.random.rand()
    assert len({first, in_worker, on_rank1}) == 3
    import pickle
    clone = pickle.loads(pickle.dumps(rng))
    monkeypatch.setattr(mod, '_current_key', lambda: (0, 0))
    with clone.activate():
        assert np.random.rand() == first  # a pickled copy restarts the stream


def _loader(ds, workers):
    from mmengine.dataset import InfiniteSampler, pseudo_collate
    sampler = InfiniteSampler(ds, shuffle=True, seed=0)
    return DataLoader(ds, batch_size=2, sampler=sampler, num_workers=workers,
                      collate_fn=pseudo_collate)


def _batches(loader, n):
    it = iter(loader)
    return [[_key({'inputs': x, 'data_samples': s})
             for x, s in zip(b['inputs'], b['data_samples'])] for b in (next(it) for _ in range(n))]


def test_resume_by_reiterating_reproduces_data(demo_root, demo_args):
    # MMEngine resumes an IterBasedTrainLoop by re-iterating the dataloader for the done
    # iterations: a fresh dataset + loader must yield exactly the original batches.
    for workers in (0, 2):
        original = _batches(_loader(_train_set(demo_root, demo_args), workers), 6)
        # the resumed process: the model has drawn random numbers before the data is reloaded
        torch.rand(100)
        np.random.rand(100)
        resumed = _batches(_loader(_train_set(demo_root, demo_args), workers), 6)
        assert original == resumed, f'num_workers={workers}'
        assert len({k for b in original for k in b}) == 12  # all different draws
