"""Strict JSON of result dicts: nan and inf (undefined scores) become ``null``."""
import math
from typing import Any, Mapping


def jsonable(obj: Any) -> Any:
    """Replace nan/inf floats by None (strict JSON) in nested dicts/lists.

    Args:
        obj: a float, a mapping or a list/tuple of them (nested), or anything else (kept).

    Returns:
        The same structure with dicts and lists (tuples become lists) and non-finite floats
        replaced by None, ready for ``json.dump(..., allow_nan=False)``.
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj
