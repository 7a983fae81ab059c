"""``tools/demo_tables.py`` on the tiny test configs, as a command (for the stop-and-continue
test)::

    python -m tests.test_experiments.tiny_table_cli DATA_ROOT [demo_tables.py arguments]

Every run's config is the tiny one of :func:`~tests.test_experiments.tasks_for_workers.
tiny_tables_cfg` (data in ``DATA_ROOT``). ``SAIR_TEST_KILL=seed0/liif_demo:3`` kills the process
with SIGKILL at the end of training iteration 3 of that run (after the checkpoint hook);
``...:val2`` during the validation at iteration 2 (after its checkpoint, before its log line).
"""
import importlib.util
import os
import os.path as osp
import signal
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _kill_hook(at: str):
    from mmengine.hooks import Hook

    class Kill(Hook):
        priority = 'LOWEST'  # after the checkpoint hook

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if not at.startswith('val') and runner.iter + 1 == int(at):
                os.kill(os.getpid(), signal.SIGKILL)

        def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if at.startswith('val') and runner.iter == int(at[3:]):
                os.kill(os.getpid(), signal.SIGKILL)
    return Kill()


def main(argv):
    import functools

    import sair_toolbox.engine.setup as setup
    from sair_toolbox.experiments import demo_tables
    from tests.test_experiments.tasks_for_workers import tiny_tables_cfg
    data_root, argv = argv[0], argv[1:]
    real_load, real_build = demo_tables._load_cfg, setup.build_runner
    hook = functools.partial(tiny_tables_cfg, data_root=data_root)

    def load(*args, **kwargs):
        cfg = real_load(*args, **kwargs)
        hook(cfg)
        return cfg

    def build(cfg, *args, **kwargs):
        runner = real_build(cfg, *args, **kwargs)
        target, _, at = os.environ.get('SAIR_TEST_KILL', '').partition(':')
        if target and osp.normpath(cfg.work_dir).endswith(osp.normpath(target)):
            runner.register_hook(_kill_hook(at))
        return runner

    demo_tables._load_cfg, setup.build_runner = load, build
    spec = importlib.util.spec_from_file_location('demo_tables_tool',
                                                  osp.join(ROOT, 'tools', 'demo_tables.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.main(argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
