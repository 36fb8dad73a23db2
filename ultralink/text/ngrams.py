"""Normalised tokens and stable n-gram hashes, shared by near-dup removal and decontamination.

Text is NFKC-normalised and case-folded; a token is a run of word characters, except that
every CJK/Thai character is a token of its own (those scripts do not separate words by
spaces), so "words" for English and "characters" for Chinese fall out of one tokenizer. Hashes
are stable across processes (blake2b per token, a polynomial over windows), so an index built
on the driver can be probed in any Ray worker.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

import numpy as np

# Hiragana/Katakana, CJK ext. A, CJK unified, compatibility ideographs, Hangul, Thai.
_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u0e00-\u0e7f"
_TOKEN = re.compile(f"[{_CJK_RANGES}]|[^\\W{_CJK_RANGES}]+")
_CJK = re.compile(f"[{_CJK_RANGES}]")
_MULT = np.uint64(0x100000001B3)  # FNV-64 prime: the window polynomial's base


def normalize(text: str) -> str:
    """NFKC + casefold + collapsed whitespace: what "the same text" means here."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def tokens(text: str) -> list[str]:
    """Words, with each CJK/Thai character a token of its own (punctuation dropped)."""
    return _TOKEN.findall(normalize(text))


def is_cjk(toks: list[str]) -> bool:
    """Mostly CJK/Thai characters: n-grams are counted in characters, not words."""
    return bool(toks) and sum(1 for t in toks if len(t) == 1 and _CJK.match(t)) * 2 > len(toks)


@functools.lru_cache(maxsize=200_000)
def _token_hash(tok: str) -> int:
    return int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")


def text_hash(text: str) -> int:
    """64-bit hash of the token sequence (exact-duplicate key: case, width, whitespace and
    punctuation do not count)."""
    return int.from_bytes(hashlib.blake2b(" ".join(tokens(text)).encode(), digest_size=8).digest(),
                          "little")


def window_hashes(toks: list[str], n: int) -> np.ndarray:
    """uint64 hashes of every ``n``-token window; one hash of all tokens when fewer than ``n``."""
    if not toks:
        return np.zeros(0, dtype=np.uint64)
    th = np.fromiter((_token_hash(t) for t in toks), dtype=np.uint64, count=len(toks))
    if len(toks) < n:
        n = len(toks)
        short = True
    else:
        short = False
    width = len(toks) - n + 1
    h = np.zeros(width, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _MULT + th[k:k + width]
        if short:  # tag it so a short text never equals a full window of a longer one
            h = h ^ np.uint64(0x9E3779B97F4A7C15)
    return h


def ngram_hashes(text: str, word_n: int, char_n: int) -> np.ndarray:
    """Window hashes of ``text``: ``word_n`` words, or ``char_n`` characters for CJK text."""
    toks = tokens(text)
    return window_hashes(toks, char_n if is_cjk(toks) else word_n)
