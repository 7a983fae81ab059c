"""Module-level functions for the tests of worker processes (a spawned worker imports them)."""
import os
import warnings


def describe(value, deps=None, sleep=0.0):
    """What a task saw: its value, process id, torch threads and the results it depended on
    (after ``sleep`` seconds)."""
    import time

    import torch
    time.sleep(sleep)
    return dict(value=value, pid=os.getpid(), threads=torch.get_num_threads(),
                deps=dict(deps or {}))


def fail(value, deps=None):
    raise ValueError(f'task {value} failed')


def tiny_tables_cfg(cfg, data_root):
    """A demo_tables ``config_hook``: the config as written, scaled down and pointed at a tiny
    demo data set (what the ``tiny_load_cfg`` fixture does, importable by workers)."""
    from tests.test_configs.shrink import shrink
    from tests.test_experiments.test_demo_tables import random_feature_nets
    warnings.simplefilter('ignore')  # random-init warnings of the shrunk encoders
    cfg.model = shrink(cfg.model.to_dict())
    if cfg.model.get('num_queries'):
        cfg.model.num_queries = 128
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            cfg[key].update(batch_size=3, num_workers=0, persistent_workers=False)
            cfg[key].dataset.update(data_root=data_root, image_size=32, num_train=8, num_val=6)
    random_feature_nets(cfg)


def write_pid_and_wait(folder, name, seconds=120.0, deps=None):
    """Write this process's id to ``<folder>/<name>.pid``, then sleep (a worker to be
    orphaned)."""
    import time
    with open(os.path.join(folder, f'{name}.pid.tmp'), 'w') as f:
        f.write(str(os.getpid()))
    os.replace(os.path.join(folder, f'{name}.pid.tmp'), os.path.join(folder, f'{name}.pid'))
    time.sleep(seconds)


def run_waiting_workers(folder):
    """Two waiting workers under run_tasks (the process the test kills)."""
    from sair_toolbox.experiments.parallel import Task, run_tasks
    run_tasks([Task(n, write_pid_and_wait, dict(folder=folder, name=n)) for n in ('a', 'b')],
              jobs=2, threads=1)
