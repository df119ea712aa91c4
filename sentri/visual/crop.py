"""A changed screenshot's changed area: the box compare.py finds around the changed pixels, checked when a
run reports it, widened by a margin (and to a least size, so a one-pixel change is seen in its context),
and the two pictures cut to it for the review queue's "Changed area" view."""

from __future__ import annotations

import io

from PIL import Image

from .limits import checked_size

MARGIN = 24  # pixels around the changed box
LEAST = (160, 90)  # the smallest area shown (width, height), when the picture is that large


def sound_box(value: object) -> list[int] | None:
    """The box a result reports ([left, top, right, bottom], right and bottom exclusive) when it is one,
    else None: a worker's report is read, never trusted to be well formed."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1_000_000 for v in value):
        return None
    left, top, right, bottom = value
    return [left, top, right, bottom] if left < right and top < bottom else None


def area(box: list[int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The part of a picture of `size` (width, height) the changed-area view shows: the box and a margin,
    at least LEAST where the picture allows, inside the picture (the whole of it for a box outside it)."""
    width, height = size
    left, top, right, bottom = box
    left, top = max(0, left - MARGIN), max(0, top - MARGIN)
    right, bottom = min(width, right + MARGIN), min(height, bottom + MARGIN)
    if left >= right or top >= bottom:
        return 0, 0, width, height
    left, right = _widen(left, right, LEAST[0], width)
    top, bottom = _widen(top, bottom, LEAST[1], height)
    return left, top, right, bottom


def _widen(start: int, end: int, least: int, limit: int) -> tuple[int, int]:
    """Grow [start, end) about its middle to `least` long (at most `limit`), kept within [0, limit)."""
    least = min(least, limit)
    if end - start >= least:
        return start, end
    start = max(0, (start + end - least) // 2)
    end = start + least
    return (limit - least, limit) if end > limit else (start, end)


def cropped(png: bytes, box: list[int]) -> bytes:
    """The picture cut to area(box), as a PNG; ValueError for a picture that is not a PNG or over the limits."""
    size = checked_size(png, "stored")
    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
        part = image.crop(area(box, size))
        buffer = io.BytesIO()
        part.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
