"""Register every sair-toolbox module and make ``sair_toolbox`` the default registry scope."""


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
