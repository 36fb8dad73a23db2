"""Raw byte access to one input file: a seekable cursor with push-back, and format sniffing.

Every reader starts here: it opens the file once, peeks at its magic bytes to learn the
compression, and reads it in bounded chunks. I/O failures become :class:`InputError`, never
``OSError``, so the decompressors (which signal corrupt data with ``OSError``) cannot mistake
one for the other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyarrow.fs as pafs

from ultralink.sources.input_unit import InputError

CHUNK = 1 << 20            # raw bytes per read
OUT_MAX = 1 << 20          # most decompressed bytes per decompressor call (bounds memory)
MAX_RECORD = 64 << 20      # a record larger than this is treated as broken (bounds memory)

BZ2_STREAM = re.compile(rb"BZh[1-9]1AY&SY")   # stream header + first block magic, byte-aligned
_MAGIC = {b"BZh": "bz2", b"\x1f\x8b": "gzip", b"\xfd7zXZ\x00": "xz"}
_UNSUPPORTED = {b"PK\x03\x04": "a zip archive (unpack it first)",
                b"\x28\xb5\x2f\xfd": "zstd-compressed (decompress it first, or recompress as bz2)",
                b"7z\xbc\xaf\x27\x1c": "a 7z archive (unpack it first)"}


class Cursor:
    """Sequential reads over a seekable pyarrow file, with push-back and known offsets.

    I/O failures become :class:`InputError` (not ``OSError``), so they are never mistaken for
    corrupt compressed data by the decompressors, which signal that with ``OSError``.
    """

    def __init__(self, fs: pafs.FileSystem, path: str, uri: str) -> None:
        self.uri = uri
        try:
            self._f = fs.open_input_file(path)
            self.size = self._f.size()
        except FileNotFoundError:
            raise InputError(uri, "no such file") from None
        except OSError as e:
            raise InputError(uri, f"cannot open: {e}") from None
        self._buf = b""
        self.offset = 0          # file offset of the next byte read() returns

    def read(self, n: int = CHUNK) -> bytes:
        if self._buf:
            out, self._buf = self._buf[:n], self._buf[n:]
        else:
            try:
                out = self._f.read(n)
            except OSError as e:
                raise InputError(self.uri, f"read failed at byte {self.offset}: {e}") from None
        self.offset += len(out)
        return out

    def unread(self, data: bytes) -> None:
        self._buf = data + self._buf
        self.offset -= len(data)

    def peek(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            more = self.read(n - len(data))
            if not more:
                break
            data += more
        self.unread(data)
        return data

    def seek(self, offset: int) -> None:
        if offset == self.offset:
            return
        self._buf = b""
        try:
            self._f.seek(offset)
        except OSError as e:
            raise InputError(self.uri, f"seek to byte {offset} failed: {e}") from None
        self.offset = offset

    def chunks(self) -> Iterator[bytes]:
        while data := self.read(CHUNK):
            yield data

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> Cursor:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def compression_of(head: bytes, uri: str) -> str:
    """``""``, ``"bz2"``, ``"gzip"`` or ``"xz"`` from magic bytes; unsupported formats raise."""
    for magic, name in _UNSUPPORTED.items():
        if head.startswith(magic):
            raise InputError(uri, f"content is {name}")
    if head.startswith(b"BZh"):
        # a stream header with its first block, or an empty stream (end-of-stream magic)
        return "bz2" if BZ2_STREAM.match(head) or head[4:10] == b"\x17rE8P\x90" else ""
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    return ""
