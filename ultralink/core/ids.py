"""Content-derived ids and keys: the one recipe behind every id the project writes.

An id is a hex digest of its parts joined by ``\\x1f`` (the ASCII unit separator, which no
part contains), truncated to ``length``: the same content gives the same id on every machine
and rerun, which is what makes resumption and de-duplication safe. Record ids that datasets
already published carry (segments, agnostic records, SFT source ids) keep SHA-1 so existing
outputs resume; everything else is SHA-256. Keys of structured values (configs, requests,
verdicts) hash their canonical JSON. Random draws seeded from content (the stop rule, the
pruning order, which host serves a prompt) take :func:`stable_int` of their parts.
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


def stable_int(*parts: object, bits: int = 63) -> int:
    """A process-independent integer from ``parts`` (Python's ``hash`` is salted per process):
    the top ``bits`` of the BLAKE2b-64 of ``parts`` joined by ``\x1f``."""
    blob = "\x1f".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big") >> (64 - bits)
