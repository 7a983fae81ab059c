"""InpaintGAN in two processes (torchrun, gloo on CPU, MMSeparateDistributedDataParallel): the
generator and the discriminator stay identical across the ranks."""
import torch

from tests.test_engine.test_distributed_training import dist_train, rank_files
from tests.test_engine.tiny_run import TEST_IMPORTS, assert_same_state
from tests.test_models.gan_tiny import gan_cfg


def test_two_process_gan_training_keeps_ranks_identical(tmp_path):
    work_dir = tmp_path / 'gan_dist'
    cfg = gan_cfg(work_dir)
    cfg.pop('experiment_name')
    cfg.custom_imports = dict(imports=list(TEST_IMPORTS), allow_failed_imports=False)
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='DumpRankWeightsHook')]
    assert cfg.model_wrapper_cfg.type == 'MMSeparateDistributedDataParallel'
    config = tmp_path / 'gan_dist.py'
    cfg.dump(str(config))
    dist_train(config, work_dir)
    files = rank_files(work_dir)
    assert [f['iter'] for f in files] == [4, 4]
    # Each rank trains on its own half of the batches: only the averaged gradients keep them equal.
    rank0, rank1 = (f['state_dict'] for f in files)
    assert any(k.startswith('discriminator.') for k in rank0)
    assert_same_state(rank0, rank1)
    assert all(torch.isfinite(v).all() for v in rank0.values() if v.is_floating_point())
