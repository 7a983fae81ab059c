from sair_toolbox.engine.setup import register_all_modules
from sair_toolbox.utils.setup_env import release_dataloader_workers


def test_release_dataloader_workers_stops_every_worker_now(tmp_path):
    import multiprocessing
    import time

    from mmengine.runner import Runner

    from tests.test_engine.tiny_run import tiny_cfg
    register_all_modules(init_default_scope=False)
    opts = {'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2}
    for key in ('train_dataloader', 'val_dataloader'):
        opts.update({f'{key}.num_workers': 1, f'{key}.persistent_workers': True})
    runner = Runner.from_cfg(tiny_cfg(tmp_path, **opts))
    runner.train()
    assert multiprocessing.active_children()  # the persistent workers outlive the loops
    start = time.monotonic()
    assert release_dataloader_workers(runner) == 2  # train and val iterators
    assert time.monotonic() - start < 3  # not the 5 s join timeout per worker
    assert not multiprocessing.active_children()
    assert release_dataloader_workers(runner) == 0  # idempotent
    assert len(list(runner.val_dataloader)) >= 1  # the loader still works (new workers)
    assert release_dataloader_workers(runner) == 1
