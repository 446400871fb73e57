"""JSON from a platform, decoded within a nesting limit.

No platform payload nests more than a handful of levels (a WeChat Channels
batch, the deepest, has four). A body nested a thousand levels deep makes
Python's decoder (and, just under that, its encoder when the item is kept)
raise RecursionError; such a body is refused as malformed instead.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class TooDeep(ValueError):
    pass


def deeper_than(value: Any, limit: int) -> bool:
    """True when ``value`` has arrays or objects nested more than ``limit`` levels (iterative: no recursion)."""
    level, depth = [value], 0
    while level:
        containers = [v for v in level if isinstance(v, (dict, list))]
        if not containers:
            return False
        depth += 1
        if depth > limit:
            return True
        level = []
        for v in containers:
            level.extend(v.values() if isinstance(v, dict) else v)
    return False


def loads(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads``, raising :class:`TooDeep` for a document nested more than ``max_depth`` levels."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(f"JSON is nested too deeply (more than {max_depth} levels)") from None
    if deeper_than(value, max_depth):
        raise TooDeep(f"JSON is nested too deeply (more than {max_depth} levels)")
    return value
