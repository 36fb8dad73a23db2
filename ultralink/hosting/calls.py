"""One way to call a host or a supervisor, whether it is a Ray actor or an in-process object.

Why it exists: the local pool (tests, benchmarks) runs the very same host, supervisor and
routing code without Ray; only the call differs (``handle.m.remote(...)`` vs ``obj.m(...)``).
"""

from __future__ import annotations

from typing import Any

import ray
from ray.actor import ActorHandle

_REMOTE: dict[type, Any] = {}


def remote_class(cls: type) -> Any:
    """``ray.remote(cls)``, made once per class (a Ray actor class is costly to rebuild)."""
    if cls not in _REMOTE:
        _REMOTE[cls] = ray.remote(cls)
    return _REMOTE[cls]


async def invoke(target: Any, method: str, *args: Any) -> Any:
    """Await ``target.method(*args)`` on an actor handle or a local object alike."""
    if isinstance(target, ActorHandle):
        return await getattr(target, method).remote(*args)
    return await getattr(target, method)(*args)
