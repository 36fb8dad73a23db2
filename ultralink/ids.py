"""Content-derived ids and keys: the one recipe behind every id the project writes.

An id is a hex digest of its parts joined by ``\\x1f`` (the ASCII unit separator, which no
part contains), truncated to ``length``: the same content gives the same id on every machine
and rerun, which is what makes resumption and de-duplication safe. Record ids that datasets
already published carry (segments, agnostic records, SFT source ids) keep SHA-1 so existing
outputs resume; everything else is SHA-256. Keys of structured values (configs, requests,
verdicts) hash their canonical JSON. Random draws seeded from content (stop rule, pruning
order, request seeds) are not ids and live with their samplers.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def digest(*parts: object, length: int | None = 16, algorithm: str = "sha256") -> str:
    """Hex digest of ``parts`` (``str()`` of each) joined by ``\\x1f``."""
    blob = "\x1f".join(map(str, parts)).encode("utf-8")
    return hashlib.new(algorithm, blob).hexdigest()[:length]


def json_digest(value: Any, length: int | None = 16) -> str:
    """SHA-256 of ``value`` as canonical JSON (sorted keys; non-JSON values by ``str``)."""
    blob = json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
