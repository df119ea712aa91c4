"""Pure helpers of the UI: chart geometry, pagination, step descriptions, one-time secrets."""

from __future__ import annotations

from sentri import ui
from sentri.errors import ValidationFailed
from sentri.routes.pages import field_errors


def test_line_chart_places_values_bottom_up_and_skips_gaps():
    chart = ui.line_chart(
        [0, None, 100], ["RUN-1", "RUN-2", "RUN-3"], width=104, height=58, y_max=100, budget=50
    )
    assert chart.dots == [(4, 54, "RUN-1"), (100, 4, "RUN-3")]
    assert chart.points == "4.0,54.0 100.0,4.0" and chart.budget_y == 29
    single = ui.line_chart([5.0], ["RUN-1"], width=100, height=20)
    assert single.dots[0][0] == 50 and single.y_max > 5
    empty = ui.line_chart([None, None], ["a", "b"])
    assert empty.dots == [] and empty.points == "" and empty.y_max == 1
    assert ui.line_chart([0, 0], ["a", "b"]).y_max == 1  # never a division by zero


def test_line_chart_keeps_runs_apart_off_the_line_and_out_of_its_count():
    chart = ui.line_chart(
        [100, 20, None, 50],
        ["RUN-1", "RUN-2", "RUN-3", "RUN-4"],
        width=100,
        height=58,
        y_max=100,
        apart=[False, True, True, False],
    )
    assert chart.dots == [(4, 4, "RUN-1"), (96, 29, "RUN-4")] and chart.points == "4.0,4.0 96.0,29.0"
    assert chart.apart_x == [34.7, 65.3] and chart.apart_dots == [(34.7, 44, "RUN-2")]
    assert chart.runs == 2  # the line's runs


def test_pass_rate_ignores_skipped_and_is_none_without_executed_tests():
    assert ui.pass_rate(3, 1) == 75 and ui.pass_rate(0, 0) is None


def test_page_arithmetic_and_lenient_page_numbers():
    page = ui.Page(number=2, per_page=50, total=101)
    assert (page.offset, page.pages, page.has_prev, page.has_next) == (50, 3, True, True)
    assert ui.Page(1, 50, 0).pages == 1 and not ui.Page(1, 50, 0).has_next
    assert [ui.page_number(v) for v in (None, "", "3", "-2", "x", "0")] == [1, 1, 3, 1, 1, 1]


def test_steps_read_like_sentences():
    assert ui.describe_step({"action": "goto", "url": "/login"}) == "goto /login"
    assert (
        ui.describe_step({"action": "fill", "target": {"label": "Email"}, "value": "a@b"})
        == 'fill label "Email" = "a@b"'
    )
    assert ui.describe_step({"action": "click", "target": {"role": "button", "name": "Go", "nth": 1}}) == (
        'click role button "Go" (#1)'
    )
    assert ui.describe_step({"action": "press", "key": "Enter"}) == "press key Enter"
    assert ui.describe_step({"action": "wait", "ms": 500}) == "wait 500 ms"


def test_a_stashed_secret_is_sealed_for_its_owner_and_a_few_minutes(app):
    """It travels in the session cookie (any process can show it), so it is encrypted, bound to its owner
    and short-lived; showing it once is the page's job (it pops it from the session)."""
    import time

    with app.app_context():
        sealed = ui.stash_secret("USR-1", "sentri_y")
        assert "sentri_y" not in sealed
        assert ui.take_secret("USR-2", sealed) is None
        assert ui.take_secret("USR-1", sealed) == "sentri_y"
        assert ui.take_secret("USR-1", sealed[:-4] + "AAAA") is None  # tampered with
        assert ui.take_secret("USR-1", sealed, now=time.time() + ui.STASH_SECONDS + 5) is None
        assert ui.take_secret("USR-1", None) is None


def test_domain_errors_carry_their_fields_and_the_api_sentence_is_unchanged():
    one = ValidationFailed.on("name", "must be 1 to 200 characters")
    assert one.message == "name: must be 1 to 200 characters"
    assert field_errors(one) == {"name": "must be 1 to 200 characters"}
    several = ValidationFailed.on_each([("baseUrl", "bad; very"), ("name", "worse"), (None, "Try again.")])
    assert several.message == "baseUrl: bad; very; name: worse; Try again."
    assert field_errors(several) == {"baseUrl": "bad; very", "name": "worse", "": "Try again."}
    # A sentence is no longer split by guesswork: a colon in it names no field.
    assert field_errors(ValidationFailed("Step 2: see the log")) == {"": "Step 2: see the log"}
