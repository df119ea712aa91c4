"""A changed screenshot's changed area: compare() finds the box around the changed pixels of a real pair of
pictures, a run's report of it is kept on the baseline waiting for review, the review queue's JSON names it
and the two pictures cut to it, and the review page offers the "Changed area" view only where a box is
known (a row recorded before boxes were kept has none)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sentri.extensions import db
from sentri.review.models import Baseline
from sentri.stores import artifact_store
from sentri.visual import crop, store
from sentri.visual.compare import compare
from tests.test_review_queue import record, seeded, shot  # noqa: F401  (seeded: the fixture)

CHANGED = (301, 187, 497, 229)  # left, top, right (exclusive), bottom (exclusive)


def _pictures() -> tuple[bytes, bytes]:
    """A 640x400 picture with detail everywhere (a gradient and stripes), and the same with one rectangle
    repainted."""
    y, x = np.mgrid[0:400, 0:640]
    pixels = np.stack([(x * 255 // 639), (y * 255 // 399), ((x // 8 + y // 8) % 2) * 200], axis=-1).astype(
        np.uint8
    )
    changed = pixels.copy()
    left, top, right, bottom = CHANGED
    changed[top:bottom, left:right] = (250, 20, 140)

    def png(array):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        return buffer.getvalue()

    return png(pixels), png(changed)


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_the_box_is_exactly_the_changed_rectangle_and_the_area_adds_a_margin_inside_the_picture():
    expected, actual = _pictures()
    found = compare(expected, actual)
    assert found.box == CHANGED and found.diff_pixels == (497 - 301) * (229 - 187)
    assert crop.area(list(found.box), (640, 400)) == (301 - 24, 187 - 24, 497 + 24, 229 + 24)
    assert crop.area([300, 200, 376, 210], (640, 400)) == (258, 160, 418, 250)  # widened about its middle
    assert crop.area([0, 0, 1, 1], (640, 400)) == (0, 0, 160, 90)  # a one-pixel change, seen in context
    assert crop.area([630, 395, 640, 400], (640, 400)) == (480, 310, 640, 400)  # kept inside the picture
    assert crop.area([0, 0, 5, 5], (100, 50)) == (0, 0, 100, 50)  # a small picture: all of it
    for junk in (None, "1,2,3,4", [1, 2, 3], [5, 0, 5, 9], [0, 0, True, 4], [0, 0, 4.5, 4], [-1, 0, 4, 4]):
        assert crop.sound_box(junk) is None
    assert crop.sound_box((1, 2, 3, 4)) == [1, 2, 3, 4]


def test_the_review_queue_keeps_the_box_names_it_and_serves_both_pictures_cut_to_it(app, seeded, admin):  # noqa: F811
    project_id, test_id, run_id = seeded
    expected, actual = _pictures()
    found = compare(expected, actual)
    with app.app_context():
        artifacts = artifact_store(app)
        sha = {"e": store.put(artifacts, expected), "a": store.put(artifacts, actual)}
        approved = Baseline(
            project_id=1,
            test_id=test_id,
            name="home",
            browser="chromium",
            device="desktop",
            viewport="640x400",
            step=3,
            status="approved",
            sha256=sha["e"],
        )
        db.session.add(approved)
        db.session.commit()
        entry = {
            **shot("a", "changed", baselineId=approved.id, ratio=round(found.ratio, 6), box=list(found.box)),
            "sha256": sha["a"],
            "viewport": "640x400",
        }
        record(run_id, test_id, status="failed", snapshots=[entry])
        row = db.session.query(Baseline).filter_by(status="pending").one()
        assert row.diff_box == list(CHANGED)
        pending = row.public_id
    listing = admin.get(f"/api/v1/projects/{project_id}/review").get_json()
    (item,) = listing["baselines"]
    assert item["diffBox"] == list(CHANGED)
    left, top, right, bottom = crop.area(list(CHANGED), (640, 400))
    for which, source in (("expected", expected), ("actual", actual)):
        url = item["crop"][f"{which}Url"]
        assert f"/baselines/{pending}/changed-area/{which}.png" in url
        response = admin.get(url)
        assert response.status_code == 200 and response.mimetype == "image/png"
        cut = _pixels(response.get_data())
        assert cut.shape == (bottom - top, right - left, 3)
        assert (cut == _pixels(source)[top:bottom, left:right]).all()
    html = admin.html(f"/projects/{project_id}/review")
    assert 'data-mode="crop"' in html and "Changed area" in html and item["crop"]["actualUrl"] in html


def test_a_row_with_no_box_offers_no_changed_area(app, seeded, admin):  # noqa: F811
    project_id, test_id, run_id = seeded
    with app.app_context():
        approved = Baseline(
            project_id=1,
            test_id=test_id,
            name="home",
            browser="chromium",
            device="desktop",
            viewport="1280x720",
            step=3,
            status="approved",
            sha256="b" * 64,
        )
        db.session.add(approved)
        db.session.commit()
        # As a run recorded it before the box was kept (and a worker's box that is not one).
        record(
            run_id,
            test_id,
            status="failed",
            snapshots=[shot("c", "changed", baselineId=approved.id, ratio=0.1)],
        )
        record(
            run_id,
            test_id,
            status="failed",
            snapshots=[shot("d", "changed", baselineId=approved.id, ratio=0.1, box=[9, 9, 3, 3])],
        )
        row = db.session.query(Baseline).filter_by(status="pending").one()
        assert row.diff_box is None
        pending = row.public_id
    (item,) = admin.get(f"/api/v1/projects/{project_id}/review").get_json()["baselines"]
    assert (item["diffBox"], item["crop"]) == (None, None)
    assert (
        admin.get(f"/api/v1/projects/{project_id}/baselines/{pending}/changed-area/actual.png").status_code
        == 404
    )
    html = admin.html(f"/projects/{project_id}/review")
    assert 'data-mode="toggle"' in html and 'data-mode="crop"' not in html and "Changed area" not in html


@pytest.mark.parametrize("which", ["expected", "actual"])
def test_the_changed_area_is_the_projects_own(app, seeded, admin, which):  # noqa: F811
    project_id, _, _ = seeded
    assert (
        admin.get(f"/api/v1/projects/{project_id}/baselines/BSL-999/changed-area/{which}.png").status_code
        == 404
    )
    assert (
        app.test_client()
        .get(f"/api/v1/projects/{project_id}/baselines/BSL-1/changed-area/{which}.png")
        .status_code
        == 401
    )
