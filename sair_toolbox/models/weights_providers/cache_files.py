"""Files of a weights cache shared by the demo providers (DemoCLIP, DemoSAM, DemoFeatureNet):
the JSON form of parameters compared with ``meta.json``, a file's checksum, the lock that
lets two processes starting at once build a cache only once, and the recipes' config options."""
import contextlib
import dataclasses
import hashlib
import json
from typing import Any, Dict

from sair_toolbox.utils.errors import ConfigError


def plain_json(value: Any) -> Any:
    """JSON-comparable form of config values (ConfigDicts, tuples)."""
    return json.loads(json.dumps(value, sort_keys=True))


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def file_lock(path: str):
    """Exclusive advisory lock on ``path`` (created if needed); a no-op where fcntl is absent."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, 'a+') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def recipe_from_options(recipe_cls, options: Dict[str, Any], provider: str):
    """``recipe_cls(**options)`` for a provider config's options (a recipe dataclass).

    Raises:
        ConfigError: an option that is not a field of the recipe, in one line naming
            ``provider`` and the fields it takes.
    """
    names = [f.name for f in dataclasses.fields(recipe_cls)]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ConfigError(f'{provider} got unknown options {unknown}; the recipe takes '
                          f'{", ".join(names)} (and cache_dir)')
    return recipe_cls(**options)
