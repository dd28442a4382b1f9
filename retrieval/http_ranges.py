"""HTTP byte ranges for the evidence player: browsers seek in audio and video with ``Range`` requests
(``?t=`` links, clicking a timeline bar), which plain ``FileResponse`` does not answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


class UnsatisfiableRange(ValueError):
    """The range lies outside the file (answer 416)."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte positions (inclusive) of a single ``bytes=`` range, or None to send it all.

    Multiple ranges and malformed headers are ignored (the whole file is a valid answer, RFC 9110 §14.2).
    """
    match = _RANGE.match(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0:
            raise UnsatisfiableRange(header)
        return max(0, size - n), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise UnsatisfiableRange(header)
    return start, end


def iter_range(fh: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """Yield bytes ``start..end`` (inclusive) of ``fh`` in chunks, then close it."""
    try:
        fh.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            block = fh.read(min(CHUNK, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        fh.close()
