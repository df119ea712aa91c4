"""How large a picture Sentri keeps or compares, read from the PNG header before anything is decoded.

A PNG says its width and height in its first chunk (IHDR, bytes 16..24), so a picture is measured from 33
bytes whatever it claims. A picture over any of these limits is refused with a sentence, never decoded,
compared or stored:

- MAX_WIDTH 7,680 pixels: the widest viewport a test may ask for (testformat.Viewport), in CSS pixels.
- MAX_HEIGHT 32,768 pixels: a full-page screenshot of a long page on a narrow (mobile) viewport.
- MAX_PIXELS 40 megapixels: the largest viewport (7,680 x 4,320 is 33 megapixels) fits, and so does a
  full-page screenshot 1,280 wide and 31,250 tall (43 screens of 720). A decoded picture costs 3 bytes a
  pixel, so this is what bounds a comparison's memory (compare.py works in bands past the two pictures).

A page longer than that is better checked in parts: `expect_screenshot` with a `target`.
"""

from __future__ import annotations

import struct
import zlib

MAX_WIDTH = 7_680
MAX_HEIGHT = 32_768
MAX_PIXELS = 40_000_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes, name: str) -> tuple[int, int]:
    """Return (width, height) from the PNG header; refuse bytes that do not start with a sound one."""
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError(f"The {name} image is not a PNG image: it does not start with a PNG header.")
    if zlib.crc32(data[12:29]) != struct.unpack(">I", data[29:33])[0]:
        raise ValueError(f"The {name} image is not a PNG image that can be read: its header is corrupt.")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def size_refusal(width: int, height: int) -> str | None:
    """Say why a picture of this size is refused, or None when it is within every limit."""
    if width <= MAX_WIDTH and height <= MAX_HEIGHT and width * height <= MAX_PIXELS:
        return None
    return (
        f"{width}x{height} pixels is over the limit of {MAX_WIDTH} pixels wide, {MAX_HEIGHT} tall "
        f"and {MAX_PIXELS / 1_000_000:g} megapixels"
    )


def checked_size(data: bytes, name: str) -> tuple[int, int]:
    """Return (width, height) from the PNG header; refuse a non-PNG or a picture over the limits."""
    width, height = png_size(data, name)
    why = size_refusal(width, height)
    if why:
        raise ValueError(f"The {name} image is refused: {why}.")
    return width, height
