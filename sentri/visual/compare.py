"""Compare two screenshots the way pixelmatch does, so a baseline check means what Playwright users expect.

A pixel differs when the perceptual (YIQ) distance between its two colours passes `threshold`; the check
passes when no pixel differs, as in Playwright, unless `max_diff_pixels` or `max_diff_pixel_ratio` (of all
pixels) allows some; with both, the smaller allowance counts (Playwright's rule too). Everything is done on whole
numpy arrays: a 1280x720 pair costs milliseconds, not the seconds a per-pixel Python loop would.

Unlike pixelmatch, anti-aliased pixels are not detected and forgiven: screenshots here come from
stable_screenshot (same browser, animations and caret off, CSS scale), so anti-aliasing renders the same
every time, and a region that still moves is masked rather than guessed at.

Both pictures' PNG headers are read before Pillow decodes anything: a file that is not a PNG, or that is
over the size limits (limits.py), is refused with a sentence.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .limits import checked_size, size_refusal

MAX_YIQ_DELTA = 35215.0  # the largest possible YIQ distance between two colours (pixelmatch)
RED = (255, 0, 0)
FADE = 0.1  # how much of the expected image shows under the diff (pixelmatch's alpha)
BAND_PIXELS = 1 << 18  # pixels worked on at a time where a whole-picture temporary would be dear (~14 MB)

# RGB -> YIQ, the rows are pixelmatch's coefficients; the distance weights y, i, q squared.
YIQ = np.array(
    [
        [0.29889531, 0.58662247, 0.11448223],
        [0.59597799, -0.27417610, -0.32180189],
        [0.21147017, -0.52261711, 0.31114694],
    ],
    dtype=np.float32,
)
YIQ_WEIGHTS = np.array([0.5053, 0.299, 0.1957], dtype=np.float32)
FADED = (255.0 + (np.arange(256) - 255.0) * FADE).round().astype(np.uint8)  # luma -> faded grey
DIFF_PALETTE = [*RED] + [level for grey in range(1, 256) for level in (grey, grey, grey)]


@dataclass(frozen=True)
class Comparison:
    passed: bool
    diff_pixels: int
    total_pixels: int
    ratio: float
    size_mismatch: bool
    diff_png: bytes | None  # the expected image faded, changed pixels red; None when nothing changed
    box: tuple[int, int, int, int] | None  # (left, top, right, bottom) of the changed pixels
    expected_size: tuple[int, int] = (0, 0)  # (width, height), from the PNG headers
    actual_size: tuple[int, int] = (0, 0)


def compare(
    expected_png: bytes,
    actual_png: bytes,
    *,
    threshold: float = 0.2,
    max_diff_pixels: int | None = None,
    max_diff_pixel_ratio: float | None = None,
) -> Comparison:
    """Compare two PNG screenshots; raise ValueError for a bad option or an image that is refused."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}.")
    if max_diff_pixel_ratio is not None and not 0.0 <= max_diff_pixel_ratio <= 1.0:
        raise ValueError(f"max_diff_pixel_ratio must be between 0 and 1, not {max_diff_pixel_ratio}.")
    if max_diff_pixels is not None and max_diff_pixels < 0:
        raise ValueError(f"max_diff_pixels must not be negative, not {max_diff_pixels}.")
    sizes = {
        "expected_size": checked_size(expected_png, "expected"),  # both before either is decoded
        "actual_size": checked_size(actual_png, "actual"),
    }
    width, height = sizes["expected_size"]
    if expected_png == actual_png:  # Chromium encodes equal pixels to equal bytes: the usual pass
        return Comparison(
            passed=True,
            diff_pixels=0,
            total_pixels=width * height,
            ratio=0.0,
            size_mismatch=False,
            diff_png=None,
            box=None,
            **sizes,
        )
    if sizes["expected_size"] != sizes["actual_size"]:
        return _size_mismatch(expected_png, actual_png, **sizes)
    expected = decode(expected_png, "expected")
    actual = decode(actual_png, "actual")
    changed = changed_pixels(expected, actual, threshold)
    height, width = changed.shape
    diff_pixels = int(np.count_nonzero(changed))
    total = width * height
    ratio = diff_pixels / total if total else 0.0
    return Comparison(
        passed=diff_pixels <= allowed_pixels(total, max_diff_pixels, max_diff_pixel_ratio),
        diff_pixels=diff_pixels,
        total_pixels=total,
        ratio=ratio,
        size_mismatch=False,
        diff_png=diff_image(expected, changed) if diff_pixels else None,
        box=bounding_box(changed),
        **sizes,
    )


def allowed_pixels(total: int, max_diff_pixels: int | None, max_diff_pixel_ratio: float | None) -> float:
    """How many differing pixels still pass: none unless loosened, the smaller allowance when both are set."""
    allowances = [
        limit
        for limit in (max_diff_pixels, None if max_diff_pixel_ratio is None else total * max_diff_pixel_ratio)
        if limit is not None
    ]
    return min(allowances, default=0)


def decode(data: bytes, name: str) -> np.ndarray:
    """Return the image as an (height, width, 3) uint8 RGB array, transparency composited on white."""
    checked_size(data, name)
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            return np.asarray(_on_white(image))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"The {name} image is not a PNG image that can be read ({exc}).") from None


def _on_white(image: Image.Image) -> Image.Image:
    """Return the image in RGB, see-through pixels blended with white (as pixelmatch judges them)."""
    if image.mode == "RGB":  # what Chromium writes: nothing to blend
        return image
    rgba = image.convert("RGBA")
    if rgba.getextrema()[3][0] == 255:
        return rgba.convert("RGB")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def changed_pixels(expected: np.ndarray, actual: np.ndarray, threshold: float) -> np.ndarray:
    """Return a (height, width) bool mask of the pixels whose YIQ distance passes the threshold."""
    height, width = expected.shape[:2]
    changed = np.empty((height, width), dtype=bool)
    # In bands of rows: a picture that changed everywhere would otherwise need about 55 bytes a pixel of
    # indices and float copies at once (2 GB at the 40-megapixel limit).
    rows = max(1, BAND_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        changed[top : top + rows] = _changed_band(
            expected[top : top + rows], actual[top : top + rows], threshold
        )
    return changed


def _changed_band(expected: np.ndarray, actual: np.ndarray, threshold: float) -> np.ndarray:
    """Return the changed-pixel mask of one band of rows."""
    # Channel by channel: numpy's any(axis=2) over three bytes is several times slower.
    changed = (expected[..., 0] != actual[..., 0]) | (expected[..., 1] != actual[..., 1])
    changed |= expected[..., 2] != actual[..., 2]
    where = np.flatnonzero(changed)  # most of a screenshot is unchanged: measure only the rest
    if where.size:
        delta = actual.reshape(-1, 3)[where].astype(np.float32) - expected.reshape(-1, 3)[where]
        yiq = delta @ YIQ.T
        changed.flat[where] = (yiq * yiq) @ YIQ_WEIGHTS > MAX_YIQ_DELTA * threshold * threshold
    return changed


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Return (left, top, right, bottom), right and bottom exclusive, of the True pixels; None if none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if not rows.size:
        return None
    columns = np.flatnonzero(mask.any(axis=0))
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def faded(image: np.ndarray) -> np.ndarray:
    """Return the image's luma FADE of the way from white, a (height, width) uint8 array of 230..255."""
    luma = np.asarray(Image.fromarray(image).convert("L"))  # ITU-R 601, pixelmatch's luma too
    return FADED[luma]


def diff_image(expected: np.ndarray, changed: np.ndarray) -> bytes:
    """Return a PNG of the expected image faded, with the changed pixels red.

    Written as a palette image: the fade leaves only greys 230..255, so index 0 is free for red, and one
    byte a pixel makes the PNG three times quicker to write than RGB."""
    indices = faded(expected)
    indices[changed] = 0
    image = Image.fromarray(indices)
    image.putpalette(DIFF_PALETTE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _size_mismatch(
    expected_png: bytes, actual_png: bytes, *, expected_size: tuple[int, int], actual_size: tuple[int, int]
) -> Comparison:
    """Fail, with a diff of the larger size when it is no larger than a picture may be: the actual image
    over the faded expected one where both exist, red wherever only one does. Over that (a tall picture
    against a wide one), no diff: nothing is decoded, and the sentence gives both sizes."""
    width, height = max(expected_size[0], actual_size[0]), max(expected_size[1], actual_size[1])
    total = width * height
    diff_png = None
    if size_refusal(width, height) is None:
        diff_png = _png(_mismatch_canvas(decode(expected_png, "expected"), decode(actual_png, "actual")))
    return Comparison(
        passed=False,
        diff_pixels=total,
        total_pixels=total,
        ratio=1.0,
        size_mismatch=True,
        diff_png=diff_png,
        box=(0, 0, width, height),
        expected_size=expected_size,
        actual_size=actual_size,
    )


def _mismatch_canvas(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Return the larger size in red, the actual image blended over the faded expected one where both are."""
    height = max(expected.shape[0], actual.shape[0])
    width = max(expected.shape[1], actual.shape[1])
    common_h = min(expected.shape[0], actual.shape[0])
    common_w = min(expected.shape[1], actual.shape[1])
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[:] = RED
    rows = max(1, BAND_PIXELS // common_w)  # in bands: the blend's uint16 copies would outweigh the canvas
    for top in range(0, common_h, rows):
        band = slice(top, min(top + rows, common_h))
        under = faded(expected[band, :common_w])[..., None].astype(np.uint16)
        out[band, :common_w] = (under + actual[band, :common_w]) // 2
    return out


def _png(pixels: np.ndarray) -> bytes:
    """Encode an RGB array as PNG; a fast compression level, since diffs are mostly flat grey."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
