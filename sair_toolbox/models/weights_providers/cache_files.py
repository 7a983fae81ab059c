"""Files of a weights cache shared by the demo providers (DemoCLIP, DemoSAM, DemoFeatureNet):
the JSON form of parameters compared with ``meta.json``, a file's checksum, and the lock that
lets two processes starting at once build a cache only once."""
import contextlib
import hashlib
import json
from typing import Any


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
