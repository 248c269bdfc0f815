"""Hand-made image files for tests of hostile input: PNGs of any colour type and bit depth (OpenCV cannot write
gray+alpha or palettes), or just a header that claims a size."""

from __future__ import annotations

import struct
import zlib


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int, bits: int = 8, colour_type: int = 2) -> bytes:
    """A PNG signature and IHDR claiming ``width`` x ``height``, with no image data: a bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")


def png(width: int, height: int, bits: int, colour_type: int, row: bytes, extra_chunks: bytes = b"") -> bytes:
    """A complete PNG whose every scanline is ``row`` (filter type 0 is prepended)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, 0)
    data = zlib.compress((b"\x00" + row) * height, 9)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra_chunks + png_chunk(b"IDAT", data)
            + png_chunk(b"IEND", b""))
