"""Prepare a process for the Runner: register every component, then build the Runner.

These two live in ``engine`` (not ``utils``) because they import the packages that register
components -- ``datasets``, ``models``, ``evaluation`` and ``engine`` itself -- and a lower layer
may not import a higher one (``setup.cfg``'s import-linter contract). The process-level helpers
that need no component (``tune_cpu_allocator``, ``release_dataloader_workers``) stay in
:mod:`sair_toolbox.utils.setup_env`.
"""


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import the packages that register components, and set the default scope.

    Also allow-lists MMEngine's checkpoint types for ``torch.load(weights_only=True)`` (done on
    import of ``sair_toolbox.engine``).

    Args:
        init_default_scope (bool): make ``'sair_toolbox'`` the current default scope
            (``mmengine.registry.init_default_scope``), so that e.g.
            ``MODELS.build(dict(type='SAIR', ...))`` finds our components without a Runner.
    """
    import sair_toolbox.datasets  # noqa: F401
    import sair_toolbox.engine  # noqa: F401
    import sair_toolbox.evaluation  # noqa: F401
    import sair_toolbox.models  # noqa: F401
    from sair_toolbox.utils.checkpoint import allow_mmengine_checkpoint_globals

    allow_mmengine_checkpoint_globals()
    if init_default_scope:
        from mmengine.registry import init_default_scope as _init_default_scope
        _init_default_scope('sair_toolbox')


def build_runner(cfg, launcher: str = 'none'):
    """Prepare this process and build the MMEngine Runner of ``cfg`` (what the tools share).

    Registers every module (and the safe checkpoint globals), keeps freed memory in the process
    (:func:`~sair_toolbox.utils.setup_env.tune_cpu_allocator`), and on CPU-only machines
    initialises a gloo process group itself for ``launcher != 'none'`` (see
    :func:`sair_toolbox.utils.dist.setup_cpu_distributed`). Call
    :func:`sair_toolbox.utils.dist.shutdown_distributed` when done.

    Args:
        cfg (mmengine.Config): the full config.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        mmengine.runner.Runner
    """
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from sair_toolbox.utils.dist import setup_cpu_distributed
    from sair_toolbox.utils.setup_env import tune_cpu_allocator

    # The Runner sets the default scope from cfg.default_scope.
    register_all_modules(init_default_scope=False)
    tune_cpu_allocator()
    setup_cpu_distributed(cfg, launcher)
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
