"""``--cfg-options`` that also reach the values a base config copied from its variables.

MMEngine executes each ``_base_`` file on its own, so ``data_root = 'data/celebahq'`` followed by
``dataset=dict(data_root=data_root)`` stores the *string* in the dataset; a child config or
``--cfg-options data_root=/data/CelebAMask-HQ`` then changes the top-level ``data_root`` but not
``train_dataloader.dataset.data_root`` (DESIGN.md, section 5). :func:`merge_cfg_options` merges
the options as MMEngine does and, for every overridden top-level variable whose old value is a
string (the dataset configs' paths: ``data_root``, ``mask_root``, ``mask_list_dir``,
``train_root``, ``test_root``), replaces every value in the config equal to that old string --
in the dataloaders' datasets and pipelines and in the top-level pipeline variables alike -- with
the new value. Dotted keys (``train_dataloader.dataset.data_root=...``) are merged as given.
Values derived from a variable by string operations are not tracked (the configs derive none).
"""
from typing import Any, Dict, Mapping, Optional


def _replace(node: Any, old: str, new: Any) -> Any:
    """``node`` with every string equal to ``old`` replaced by ``new`` (dicts edited in place)."""
    if isinstance(node, str):
        return new if node == old else node
    if isinstance(node, dict):
        for key, value in node.items():
            node[key] = _replace(value, old, new)
        return node
    if isinstance(node, list):
        node[:] = [_replace(value, old, new) for value in node]
        return node
    if isinstance(node, tuple):
        return type(node)(_replace(value, old, new) for value in node)
    return node


def merge_cfg_options(cfg, options: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """``cfg.merge_from_dict(options)``, with top-level string variables followed everywhere.

    Args:
        cfg (mmengine.Config): edited in place.
        options: ``--cfg-options`` as parsed by MMEngine's ``DictAction`` (None: nothing).

    Returns:
        ``{variable: (old, new)}`` of the top-level variables that were followed.
    """
    if not options:
        return {}
    followed = {key: (cfg[key], value) for key, value in options.items()
                if '.' not in key and isinstance(cfg.get(key), str) and cfg[key] != value}
    cfg.merge_from_dict(dict(options))
    for key, (old, new) in followed.items():
        for name in list(cfg.keys()):
            if name != key:
                cfg[name] = _replace(cfg[name], old, new)
    return followed
