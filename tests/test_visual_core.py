"""Visual checks: compare() on images built here (exact pixel counts, boxes, thresholds, refusals), then
stable_screenshot() in a real Chromium against a page that animates, blinks a caret and changes text,
where a check that flakes would be worthless."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sentri.review import views
from sentri.stores import FolderStore
from sentri.visual import limits, store
from sentri.visual.compare import compare
from sentri.visual.shot import stable_screenshot
from sentri.worker.snapshots import Snapshots
from tests.support.async_browser import chromium_on_own_loop

RED = (255, 0, 0)


def _png(image: Image.Image, compress_level: int = 6) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def _white(width: int = 200, height: int = 100, colour=(255, 255, 255)) -> Image.Image:
    return Image.new("RGB", (width, height), colour)


def _with_square(box: tuple[int, int, int, int], colour=RED) -> bytes:
    image = _white()
    ImageDraw.Draw(image).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=colour)
    return _png(image)


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


# -- compare() ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress_level", [6, 0])  # the same bytes, then the same pixels encoded apart
def test_identical_images_pass_with_nothing_to_show(compress_level):
    expected, actual = _png(_white()), _png(_white(), compress_level)
    assert (expected == actual) == (compress_level == 6)
    result = compare(expected, actual, threshold=0.0, max_diff_pixel_ratio=0.0)
    assert result.passed and result.diff_pixels == 0 and result.ratio == 0.0
    assert result.total_pixels == 20_000 and result.diff_png is None and result.box is None


def test_a_red_square_is_counted_boxed_and_painted_red_in_the_diff():
    result = compare(_png(_white()), _with_square((50, 30, 70, 50)))
    assert (result.diff_pixels, result.box, result.size_mismatch) == (400, (50, 30, 70, 50), False)
    assert result.ratio == 400 / 20_000 and not result.passed
    diff = _pixels(result.diff_png)
    assert diff.shape == (100, 200, 3)
    red = (diff == RED).all(axis=2)
    assert red[30:50, 50:70].all() and red.sum() == 400
    assert (diff[~red] == 255).all()  # white faded is still white


def test_a_change_under_the_allowed_ratio_passes_but_still_shows_its_diff():
    result = compare(_png(_white()), _with_square((0, 0, 10, 10)), max_diff_pixel_ratio=0.01)
    assert result.passed and result.diff_pixels == 100 and result.diff_png is not None


def test_no_pixel_may_differ_unless_max_diff_pixels_or_ratio_allows_it_and_both_allow_the_smaller():
    """Playwright's rule: no tolerance by default; with both allowances set, the stricter one counts."""
    expected, hundred = _png(_white()), _with_square((0, 0, 10, 10))  # 100 of 20,000 pixels: 0.5%
    assert not compare(expected, hundred).passed
    assert compare(expected, hundred, max_diff_pixels=100).passed
    assert not compare(expected, hundred, max_diff_pixels=99).passed
    assert compare(expected, hundred, max_diff_pixel_ratio=0.005).passed
    assert not compare(expected, hundred, max_diff_pixels=1_000, max_diff_pixel_ratio=0.004).passed
    assert not compare(expected, hundred, max_diff_pixels=99, max_diff_pixel_ratio=0.5).passed


def test_the_threshold_forgives_a_slight_shade_and_zero_forgives_nothing():
    grey, lighter = _png(_white(colour=(250, 250, 250))), _png(_white())
    assert compare(grey, lighter, threshold=0.2).diff_pixels == 0
    strict = compare(grey, lighter, threshold=0.0)
    assert strict.diff_pixels == 20_000 and not strict.passed and strict.box == (0, 0, 200, 100)


def test_transparency_is_judged_on_white():
    clear = _png(Image.new("RGBA", (200, 100), (0, 0, 0, 0)))
    assert compare(clear, _png(_white()), threshold=0.0).diff_pixels == 0


def test_images_of_different_sizes_fail_with_a_diff_covering_both():
    result = compare(_png(_white()), _png(_white(220, 110)))
    assert not result.passed and result.size_mismatch and result.ratio == 1.0
    diff = _pixels(result.diff_png)
    assert diff.shape == (110, 220, 3)
    assert tuple(diff[50, 210]) == RED and tuple(diff[105, 10]) == RED and tuple(diff[50, 100]) != RED
    assert (result.expected_size, result.actual_size) == ((200, 100), (220, 110))


def test_a_tall_picture_against_a_wide_one_says_so_without_drawing_a_canvas_for_both():
    """1280x12000 against 7680x720: a diff covering both would be 7680x12000, 92 megapixels (276 MB)."""
    tall, wide = _png(Image.new("L", (1280, 12_000), 255)), _png(Image.new("L", (7680, 720), 250))
    tracemalloc.start()
    try:
        result = compare(tall, wide)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not result.passed and result.size_mismatch and result.diff_png is None
    assert (result.expected_size, result.actual_size) == ((1280, 12_000), (7680, 720))
    assert peak < 5_000_000  # neither picture is decoded either: the tall one alone is 46 MB


def test_a_picture_that_changed_everywhere_costs_a_few_bytes_a_pixel_to_compare():
    """Measuring every pixel at once took about 55 bytes a pixel (2 GB at the 40-megapixel limit); in bands
    it is the two decoded pictures (3 bytes a pixel each), the mask and the diff, plus a few MB."""
    size = 2048 * 2048
    white, black = _png(_white(2048, 2048)), _png(_white(2048, 2048, (0, 0, 0)))
    tracemalloc.start()
    try:
        result = compare(white, black)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.diff_pixels == size and result.box == (0, 0, 2048, 2048)
    assert peak < 16 * size


@pytest.mark.parametrize("data", [b"", b"not an image at all", _png(_white())[:60]])
def test_bytes_that_are_not_a_readable_png_are_refused_with_a_sentence(data):
    with pytest.raises(ValueError, match=r"^The actual image is not a PNG image.*\.$"):
        compare(_png(_white()), data)


def _claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims width x height: no pixel data to back it, so decoding it would fail."""
    bomb = bytearray(_png(Image.new("1", (1, 1))))
    bomb[16:24] = struct.pack(">II", width, height)
    bomb[29:33] = struct.pack(">I", zlib.crc32(bytes(bomb[12:29])))
    return bytes(bomb)


def test_an_image_claiming_a_hundred_megapixels_is_refused_before_decoding():
    bomb = _claiming(10_000, 10_000)
    for actual in (_png(_white()), bomb):  # also when both are the same bytes
        with pytest.raises(
            ValueError, match=r"expected image is refused: 10000x10000 pixels is over the limit"
        ):
            compare(bomb, actual)


@pytest.mark.parametrize(("width", "height"), [(20_000, 720), (1_000, 40_000)])
def test_a_header_over_the_width_or_height_limit_is_refused_from_its_header_alone(width, height):
    """Both are within 40 megapixels: only the width or the height limit refuses them. The file holds one
    pixel, so a decode would fail as truncated; a sentence naming the claimed size comes from the header."""
    with pytest.raises(
        ValueError,
        match=rf"^The actual image is refused: {width}x{height} pixels is over "
        r"the limit of 7680 pixels wide, 32768 tall and 40 megapixels\.$",
    ):
        compare(_png(_white()), _claiming(width, height))


def test_the_store_writes_nothing_over_the_size_limits(tmp_path):
    artifacts = FolderStore(tmp_path)
    with pytest.raises(ValueError, match="stored image is refused: 2000x100000 pixels"):
        store.put(artifacts, _claiming(2_000, 100_000))
    assert not any(tmp_path.iterdir())
    assert store.read(artifacts, store.put(artifacts, _png(_white()))) == _png(_white())


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"threshold": 1.5}, "must be between 0 and 1"),
        ({"max_diff_pixel_ratio": -0.1}, "must be between 0 and 1"),
        ({"max_diff_pixels": -1}, "must not be negative"),
    ],
)
def test_options_out_of_range_are_refused(options, why):
    with pytest.raises(ValueError, match=why):
        compare(_png(_white()), _png(_white()), **options)


# -- stable_screenshot() in Chromium ------------------------------------------------------------------

PAGE = """<!doctype html>
<style>
  body { margin: 0; font: 16px sans-serif }
  @keyframes slide { from { transform: translateX(0); background: #c00 } to { transform: translateX(400px);
    background: #00c } }
  #mover { width: 80px; height: 80px; animation: slide 0.4s linear infinite alternate }
  #fade { width: 80px; height: 20px; background: #0a0; transition: opacity 2s }
  #card { position: absolute; left: 40px; top: 300px; width: 300px; height: 120px; background: #eee }
</style>
<div id="mover"></div><div id="fade"></div>
<input id="name" value="caret here" autofocus>
<p id="clock">12:00:00</p>
<div id="card">A card</div>
<script>document.getElementById("fade").style.opacity = "0.2"; document.getElementById("name").focus()</script>
"""


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module, on an event loop of its own."""
    yield from chromium_on_own_loop()


def _on_page(browser, check):
    """Run `check(page)` on PAGE in a fresh 1280x720 context at device scale 2."""
    loop, chromium = browser

    async def run():
        context = await chromium.new_context(viewport={"width": 1280, "height": 720}, device_scale_factor=2)
        try:
            page = await context.new_page()
            await page.set_content(PAGE)
            return await check(page)
        finally:
            await context.close()

    return loop.run_until_complete(run())


def test_the_page_does_move_when_nothing_stops_it(browser):
    """Without this, the test below could pass on a page that was still to begin with."""

    async def plain(page):
        return [await page.screenshot(scale="css") for _ in range(4)]

    shots = _on_page(browser, plain)
    assert any(compare(shots[0], shot, threshold=0.0).diff_pixels for shot in shots[1:])


def test_ten_stable_screenshots_in_a_row_are_identical(browser):
    async def ten(page):
        return [await stable_screenshot(page) for _ in range(10)]

    shots = _on_page(browser, ten)
    assert Image.open(io.BytesIO(shots[0])).size == (1280, 720)  # CSS pixels at device scale 2
    for shot in shots[1:]:
        result = compare(shots[0], shot, threshold=0.0, max_diff_pixel_ratio=0.0)
        assert result.passed and result.diff_pixels == 0


def test_a_masked_element_may_change_and_an_unmasked_one_may_not(browser):
    async def shots(page):
        clock = page.locator("#clock")
        before = (await stable_screenshot(page, mask=[clock]), await stable_screenshot(page))
        await clock.evaluate("element => element.textContent = '12:59:59'")
        return before, (await stable_screenshot(page, mask=[clock]), await stable_screenshot(page))

    (masked, plain), (masked_after, plain_after) = _on_page(browser, shots)
    assert compare(masked, masked_after, threshold=0.0).diff_pixels == 0
    changed = compare(plain, plain_after, threshold=0.0)
    assert changed.diff_pixels > 0 and changed.box is not None
    assert (_pixels(masked)[changed.box[1], changed.box[0]] == (255, 0, 255)).all()  # the mask colour


def test_a_locator_screenshot_is_the_size_of_its_element(browser):
    async def card(page):
        return await stable_screenshot(page, locator=page.locator("#card"))

    with Image.open(io.BytesIO(_on_page(browser, card))) as image:
        assert image.size == (300, 120)


def _job(folder, **fields):
    """What Snapshots reads of a TestJob: its pictures go to the artifact store of this folder."""
    return SimpleNamespace(
        **{
            "uses_secrets": False,
            "step_timeout_ms": 5000,
            "baselines": {},
            "rejected_shots": {},
            "artifacts": FolderStore(folder),
            **fields,
        }
    )


def test_a_full_disk_fails_the_step_with_a_sentence_and_not_the_worker(browser, tmp_path):
    blocked = tmp_path / "visual"
    blocked.write_text(
        "a file where the store's folder should be"
    )  # every write under it fails, even as root
    snapshots = Snapshots(_job(tmp_path))

    async def take(page):
        with pytest.raises(AssertionError, match="the screenshot could not be stored"):
            await snapshots(page, 2, {"action": "expect_screenshot", "name": "home"})

    _on_page(browser, take)
    assert snapshots.entries == []  # an entry would name a picture that is not there


def test_a_baseline_over_the_limits_fails_the_step_with_a_sentence(browser, tmp_path):
    """A baseline stored before the limits existed: put() would refuse it now, so it is written directly."""
    old = _claiming(8_000, 720)
    sha = store.digest(old)
    FolderStore(tmp_path).put_bytes(store.key_of(sha), old, "image/png")
    snapshots = Snapshots(_job(tmp_path, baselines={"home@1280x720": {"id": 1, "sha256": sha}}))

    async def take(page):
        with pytest.raises(
            AssertionError,
            match='screenshot "home" could not be compared: The expected image '
            "is refused: 8000x720 pixels is over the limit",
        ):
            await snapshots(page, 2, {"action": "expect_screenshot", "name": "home"})

    _on_page(browser, take)


def test_a_screenshot_over_the_limits_fails_the_step_and_nothing_is_stored(browser, tmp_path, monkeypatch):
    """No baseline yet, so before the limits the picture was kept as a new one whatever its size.
    The height limit is lowered so that a 2000-pixel page is over it: Chromium need not draw 33,000 pixels."""
    monkeypatch.setattr(limits, "MAX_HEIGHT", 1_000)
    root = tmp_path / "visual"
    snapshots = Snapshots(_job(tmp_path))

    async def take(page):
        await page.evaluate("document.body.style.height = '2000px'")
        with pytest.raises(
            AssertionError,
            match=r'^screenshot "long" is refused: 1280x2000 pixels is over the '
            r"limit of 7680 pixels wide, 1000 tall and 40 megapixels; ",
        ):
            await snapshots(page, 2, {"action": "expect_screenshot", "name": "long", "fullPage": True})

    _on_page(browser, take)
    assert snapshots.entries == [] and not root.exists()


def test_a_screenshot_of_another_size_fails_naming_both_sizes_and_keeps_its_diff(browser, tmp_path):
    artifacts = FolderStore(tmp_path)
    sha = store.put(artifacts, _png(_white()))
    snapshots = Snapshots(_job(tmp_path, baselines={"home@1280x720": {"id": 1, "sha256": sha}}))

    async def take(page):
        with pytest.raises(
            AssertionError,
            match=r'^screenshot "home" changed: sizes differ: 1280x720 now, '
            r"200x100 in the approved baseline; ",
        ):
            await snapshots(page, 2, {"action": "expect_screenshot", "name": "home"})

    _on_page(browser, take)
    (entry,) = snapshots.entries
    assert entry["status"] == "changed" and entry["box"] == [0, 0, 1280, 720]
    assert _pixels(store.read(artifacts, entry["diffSha256"])).shape == (720, 1280, 3)


def test_a_match_within_the_allowance_names_only_pictures_that_were_stored(browser, tmp_path, monkeypatch):
    """Finding 6: the actual picture of a match within the allowance was never stored, yet linked."""
    artifacts = FolderStore(tmp_path)
    snapshots = Snapshots(_job(tmp_path))

    async def take(page):
        baseline = {"id": 1, "sha256": store.put(artifacts, await stable_screenshot(page))}
        snapshots.job.baselines = {"home@1280x720": baseline, "again@1280x720": baseline}
        await page.locator("#card").evaluate("card => card.textContent = 'A card, reworded'")
        step = {"action": "expect_screenshot", "name": "home", "maxDiffPixelRatio": 0.05}
        await snapshots(page, 2, step)
        monkeypatch.setattr(store, "put", _full_disk)
        await snapshots(page, 3, {**step, "name": "again"})

    _on_page(browser, take)
    stored, unstored = snapshots.entries
    assert stored["status"] == "matched" and 0 < stored["ratio"] <= 0.05
    for sha in (stored["sha256"], stored["expectedSha256"], stored["diffSha256"]):
        assert store.read(artifacts, sha) is not None
    assert unstored["status"] == "matched" and {"sha256", "diffSha256"}.isdisjoint(unstored)
    (shown,) = views.snapshots([unstored], lambda sha: f"/visual/{sha}.png")
    assert shown["actualUrl"] is None and shown["diffUrl"] is None and shown["expectedUrl"] is not None


def _full_disk(_store, _data):
    raise OSError(28, "No space left on device")
