"""The web UI over the Flask client: navigation, forms with CSRF, roles, escaping, run pages, tabs."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from sentri import projects, runs, testcases, tokens, users
from sentri.database import write
from sentri.extensions import db
from sentri.models import Project, Run
from sentri.queue import lifecycle
from tests.support.pages import PASSWORD, Browser
from tests.support.runs import recorded_run
from tests.support.settings import override
from tests.support.shared import recorder_export

XSS = "<script>alert(1)</script>"


@pytest.fixture
def people(app):
    with app.app_context():
        users.create_user("admin@example.com", PASSWORD, role="admin")
        users.create_user("member@example.com", PASSWORD, role="member")


@pytest.fixture
def admin(app, people):
    return Browser(app.test_client(), "admin@example.com")


@pytest.fixture
def member(app, people):
    return Browser(app.test_client(), "member@example.com")


@pytest.fixture
def shop(app):
    with app.app_context():
        return projects.create("Shop", "http://127.0.0.1:9/shop").public_id


def add_test(app, project_id, name="Home", approve=True, tags=None, steps=None):
    with app.app_context():
        project = projects.get(project_id)
        test = testcases.create(
            project,
            {
                "name": name,
                "tags": tags or [],
                "steps": steps or [{"action": "goto", "url": "/"}, {"action": "expect_title", "title": "OK"}],
            },
        )
        if approve:
            testcases.review(test, "approve")
        return test.public_id


def finished_run(app, project_id, *, results, status="completed"):
    """Create a run and record results straight into the database, without a browser."""
    with app.app_context():
        return recorded_run(projects.get(project_id), results, status=status).public_id


# -- layout, navigation, login -------------------------------------------------------------------


def test_pages_need_a_login_and_come_back_after_it(client, shop):
    for url in ("/projects", f"/projects/{shop}/tests", f"/projects/{shop}/runs", "/users"):
        response = client.get(url)
        assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


def test_navigation_shows_users_only_to_admins(admin, member, shop):
    admin_html = admin.html("/projects")
    assert 'href="/users"' in admin_html and "Log out" in admin_html
    assert 'href="/users"' not in member.html("/projects")
    tabs = admin.html(f"/projects/{shop}/tests")
    for label in ("Tests", "Review queue", "Runs", "CI", "Gates", "Settings"):
        assert f">{label}</a>" in tabs
    assert admin.get(f"/projects/{shop}").headers["Location"].endswith(f"/projects/{shop}/tests")


def test_every_admin_page_and_action_refuses_a_member_with_403(member, shop):
    assert member.get("/users").status_code == 403
    assert member.post("/users", {"email": "x@example.com", "password": PASSWORD}).status_code == 403
    assert member.post("/users/USR-1", {"action": "deactivate"}).status_code == 403
    assert member.post(f"/projects/{shop}/tokens", {"label": "ci"}).status_code == 403
    assert member.post(f"/projects/{shop}/quality-gates", {"minPassRate": "90"}).status_code == 403
    assert member.post(f"/projects/{shop}/delete", {"confirm": "Shop"}).status_code == 403
    # Members still see the tabs, without the admin controls.
    automation = member.html(f"/projects/{shop}/automation")
    assert "New token" not in automation and "Only admins create and revoke tokens." in automation
    gates = member.html(f"/projects/{shop}/gates")  # read only, and says so
    assert "<strong>Read only.</strong>" in gates and 'name="minPassRate"' in gates
    assert "Save gates" not in gates and all(
        " disabled" in tag for tag in re.findall(r'<input (?![^>]*type="hidden")[^>]*>', gates)
    )
    assert "Delete this project" not in member.html(f"/projects/{shop}/settings")


def test_only_an_admin_sees_and_may_use_a_tests_delete_button(app, admin, member, shop):
    test_id = add_test(app, shop)
    page = f"/projects/{shop}/tests/{test_id}"
    assert "Delete test" not in member.html(page)
    assert member.post(f"{page}/delete").status_code == 403
    assert member.get(page).status_code == 200  # still there
    assert "Delete test" in admin.html(page)
    assert admin.post(f"{page}/delete").status_code == 302
    assert admin.get(page).status_code == 404


def test_forms_need_the_csrf_token(admin, shop):
    assert (
        admin.client.post("/projects", data={"name": "X", "baseUrl": "http://127.0.0.1:9"}).status_code == 400
    )
    assert admin.client.post(f"/projects/{shop}/runs").status_code == 400
    assert admin.client.post(f"/projects/{shop}/tokens", data={"label": "ci"}).status_code == 400
    assert (
        admin.client.post("/users", data={"email": "a@example.com", "password": PASSWORD}).status_code == 400
    )


def test_user_strings_render_as_text_everywhere(app, admin):
    with app.app_context():
        project_id = projects.create(XSS, "http://127.0.0.1:9").public_id
    test_id = add_test(app, project_id, name=XSS, approve=False, tags=[XSS])
    add_test(app, project_id, name=XSS)
    run_id = finished_run(app, project_id, results=[{"test_name": XSS, "status": "failed", "error": XSS}])
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for url in (
        "/projects",
        f"/projects/{project_id}/tests",
        f"/projects/{project_id}/review",
        f"/projects/{project_id}/tests/{test_id}",
        f"/projects/{project_id}/settings",
        f"/runs/{run_id}",
    ):
        html = admin.html(url)
        assert XSS not in html and escaped in html, url


# -- projects list -----------------------------------------------------------------------------------


def test_create_project_and_errors_beside_the_field(admin):
    bad = admin.post("/projects", {"name": "Blog", "baseUrl": "ftp://example.com"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert 'id="project-url-error"' in html and "absolute http:// or https:// URL" in html
    assert 'value="Blog"' in html  # what was typed is kept
    empty = admin.post("/projects", {"name": " ", "baseUrl": "https://blog.example.com"})
    assert empty.status_code == 400 and 'id="project-name-error"' in empty.get_data(as_text=True)
    ok = admin.post("/projects", {"name": "Blog", "baseUrl": "https://blog.example.com"})
    assert ok.status_code == 302 and re.search(r"/projects/PRJ-\d+/tests$", ok.headers["Location"])
    assert "Blog" in admin.html("/projects")


def test_project_list_has_last_verdict_sparkline_and_pages(app, admin, shop):
    add_test(app, shop)
    passing = finished_run(app, shop, results=[{"test_name": "Home", "status": "passed"}])
    failing = finished_run(app, shop, results=[{"test_name": "Home", "status": "failed", "error": "no"}])
    html = admin.html("/projects")
    assert f"{failing} · failed" in html and f"{passing} · passed" not in html
    assert '<svg class="sparkline"' in html and "<polyline" in html
    with app.app_context(), write():
        for n in range(55):
            db.session.add(Project(name=f"P{n}", base_url="http://127.0.0.1:9"))
    assert "Page 1 of 2" in html or "Page 1 of 2" in admin.html("/projects")
    second = admin.html("/projects?page=2")
    assert "Page 2 of 2" in second and "P54" in second
    assert "Page 1 of 2" in admin.html("/projects?page=nonsense")


# -- run page ----------------------------------------------------------------------------------------


def test_run_page_shows_failures_steps_screenshot_vitals_and_gates(app, admin, shop, tmp_path):
    test_id = add_test(
        app,
        shop,
        steps=[
            {"action": "goto", "url": "/"},
            {"action": "click", "target": {"css": "#buy"}},
            {"action": "expect_text", "target": {"css": "h1"}, "text": "Thanks"},
        ],
    )
    with app.app_context(), write():
        project = projects.get(shop)
        project.quality_gates = {"minPassRate": 90}
        project.vitals_budgets = {"lcp": 2000}
        key = int(test_id.removeprefix("TST-"))
    shot = Path(app.instance_path) / "artifacts" / "shot.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.write_bytes(b"\x89PNG\r\n\x1a\n")
    run_id = finished_run(
        app,
        shop,
        results=[
            {
                "test_id": key,
                "test_name": "Home",
                "status": "failed",
                "failing_step": 2,
                "error": "locator #buy not found",
                "screenshot": "artifacts/shot.png",
                "vitals": [
                    {"url": "http://127.0.0.1:9/shop/", "lcp": 3000.0, "cls": 0.3, "inp": None, "ttfb": 100.0}
                ],
            },
            {"test_name": "Later", "status": "skipped", "skip_reason": "over_budget"},
        ],
    )
    html = admin.html(f"/runs/{run_id}")
    assert 'class="failing-step" aria-current="step"' in html
    assert "<strong>Step 2</strong> <code>click css &#34;#buy&#34;</code>: locator #buy not found" in html
    failing = re.search(r'<li class="failing-step".*?</li>', html, re.S).group(0)
    assert "#buy" in failing
    assert f'href="/api/v1/runs/{run_id}/results/1/screenshot.png" data-zoom' in html and "<img" in html
    assert admin.get(f"/api/v1/runs/{run_id}/results/1/screenshot.png").status_code == 200
    vitals = html[html.index('id="vitals"') :]
    assert "vital-over" in vitals and "over the 2,000 ms budget" in vitals and "good, budget" not in vitals
    assert "vital-poor" in vitals  # CLS 0.3, no budget: Google's rating
    assert "over the run&#39;s time budget (budgetMinutes)" in html
    assert (
        "minPassRate: actual 0 vs threshold 90" in html and "Pass rate 0% is under the quality gate" in html
    )
    assert "LCP over its 2,000 ms budget on 1 page" in html and "LCP on Home" in html
    assert 'data-verdict="failed"' in html and f'href="/api/v1/runs/{run_id}/junit.xml"' in html
    assert "Abort run" not in html and "run-live.js" not in html
    assert "edited after this run" not in html


def test_run_page_says_when_the_steps_shown_were_edited_after_the_run(app, admin, shop):
    from sentri.models import utcnow

    test_id = add_test(app, shop)
    run_id = finished_run(
        app,
        shop,
        results=[
            {
                "test_id": int(test_id[4:]),
                "test_name": "Home",
                "status": "failed",
                "failing_step": 1,
                "error": "x",
                "started_at": utcnow(),
            }
        ],
    )
    assert "edited after this run" not in admin.html(f"/runs/{run_id}")
    with app.app_context():
        testcases.update(
            testcases.get(projects.get(shop), test_id), {"steps": [{"action": "goto", "url": "/new"}]}
        )
    assert "edited after this run" in admin.html(f"/runs/{run_id}")


def test_active_run_polls_and_can_be_aborted(app, admin, shop):
    add_test(app, shop)
    with app.app_context():
        run_id = lifecycle.start(
            projects.get(shop), runs.RunOptions(), source="user", triggered_by="USR-1"
        ).public_id
    html = admin.html(f"/runs/{run_id}")
    assert "js/run-live.js" in html and f'data-status-url="/api/v1/runs/{run_id}"' in html
    assert "<progress" in html and "Abort run" in html
    assert re.search(
        r"<td>1</td>\s*<td><a [^>]*>Home</a></td>\s*<td><span class=\"status status-queued\">waiting", html
    )
    report = admin.get(f"/runs/{run_id}/report")
    assert report.status_code == 200 and report.headers["Cache-Control"] == "no-store"
    part = report.get_data(as_text=True)
    assert "<html" not in part and all(
        f'id="{name}" data-live-part' in part for name in ("run-headline", "run-crawl-part", "run-results")
    )
    assert admin.client.post(f"/runs/{run_id}/abort").status_code == 400  # no CSRF token
    response = admin.post(f"/runs/{run_id}/abort")
    assert response.status_code == 302
    with app.app_context():
        assert lifecycle.get(run_id).status == "aborted"
    assert "aborted" in admin.html(f"/runs/{run_id}")
    assert "already ended" in admin.post(f"/runs/{run_id}/abort", follow_redirects=True).get_data(
        as_text=True
    )


def test_unknown_run_is_a_404_page(admin):
    response = admin.get("/runs/RUN-999")
    assert response.status_code == 404 and "Run RUN-999 not found." in response.get_data(as_text=True)


# -- runs tab ----------------------------------------------------------------------------------------


def test_run_now_refusals_and_history(app, admin, shop):
    refused = admin.post(f"/projects/{shop}/runs")
    assert refused.status_code == 400 and "add tests first" in refused.get_data(as_text=True)
    add_test(app, shop, approve=False)
    assert "approve tests first" in admin.post(f"/projects/{shop}/runs").get_data(as_text=True)
    add_test(app, shop, name="Approved")
    with app.app_context():
        active = lifecycle.start(
            projects.get(shop), runs.RunOptions(), source="user", triggered_by="USR-1"
        ).public_id
    conflict = admin.post(f"/projects/{shop}/runs")
    html = conflict.get_data(as_text=True)
    assert conflict.status_code == 409 and "already has an active run" in html
    assert f'href="/runs/{active}"' in html and f"Open the active run {active}" in html
    history = admin.html(f"/projects/{shop}/runs")
    assert active in history and "pending" in history and "<td>admin@example.com</td>" in history


def test_runs_tab_charts_pass_rate_and_vitals_with_budget_lines(app, admin, shop):
    add_test(app, shop)
    with app.app_context(), write():
        project = projects.get(shop)
        project.quality_gates = {"minPassRate": 80}
        project.vitals_budgets = {"lcp": 2500, "cls": 0.1}
    for lcp in (1000.0, 2000.0, 3000.0):
        finished_run(
            app,
            shop,
            results=[
                {
                    "test_name": "Home",
                    "status": "passed",
                    "duration_ms": 1200,
                    "vitals": [{"url": "/", "lcp": lcp, "cls": 0.01, "inp": None, "ttfb": 50.0}],
                }
            ],
        )
    html = admin.html(f"/projects/{shop}/runs")
    assert html.count('<figure class="chart">') == 4  # pass rate, LCP, CLS, TTFB (INP never measured)
    assert "Pass rate (%)" in html and "LCP p75 (ms)" in html and "INP p75" not in html
    assert html.count('class="budget"') == 3
    with app.app_context(), write():
        for _ in range(60):
            db.session.add(Run(project_id=projects.get(shop).id, status="completed", trigger_source="cli"))
    assert "Page 1 of 2" in admin.html(f"/projects/{shop}/runs")
    assert "Page 2 of 2" in admin.html(f"/projects/{shop}/runs?page=2")


# -- tests tab, import, review queue, test page --------------------------------------------------------


def test_tests_tab_filters_by_status_and_tag(app, admin, shop):
    add_test(app, shop, name="Checkout smoke", tags=["smoke"])
    add_test(app, shop, name="Draft one", approve=False, tags=["cart"])
    html = admin.html(f"/projects/{shop}/tests")
    assert "Checkout smoke" in html and "Draft one" in html and "never run" in html
    drafts = admin.html(f"/projects/{shop}/tests?status=draft")
    assert "Draft one" in drafts and "Checkout smoke" not in drafts
    smoke = admin.html(f"/projects/{shop}/tests?tag=smoke")
    assert "Checkout smoke" in smoke and "Draft one" not in smoke
    assert "No tests match the filter" in admin.html(f"/projects/{shop}/tests?tag=nothing")
    assert "Draft one" in admin.html(f"/projects/{shop}/tests?status=bogus")  # unknown filter = no filter


def _upload(admin, shop, name, content, **extra):
    data = {"file": (io.BytesIO(content.encode()), name), **extra}
    return admin.post(f"/projects/{shop}/tests/import", data, content_type="multipart/form-data")


def test_import_recorder_export_and_unsupported_steps(admin, shop):
    content = recorder_export("coffee-cart-order-coffees.json").read_text()
    response = _upload(admin, shop, "coffee-cart-order-coffees.json", content)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/projects/{shop}/review")
    review = admin.html(f"/projects/{shop}/review")
    assert "order-coffees" in review and "[data-test=&#39;Espresso&#39;]" in review
    flow = json.dumps(
        {
            "title": "odd",
            "steps": [
                {"type": "navigate", "url": "https://example.com"},
                {"type": "customStep", "name": "x", "parameters": {}},
            ],
        }
    )
    refused = _upload(admin, shop, "odd.json", flow)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "Nothing was imported" in html
    assert "step 2 (customStep): not supported" in html
    skipped = _upload(admin, shop, "odd.json", flow, skipUnsupported="1")
    assert skipped.status_code == 302
    assert "step 2 (customStep): skipped" in admin.html(f"/projects/{shop}/review")
    assert _upload(admin, shop, "", "").status_code == 400
    assert "invalid YAML" in _upload(admin, shop, "t.yaml", "name: [").get_data(as_text=True)


def test_a_test_that_opens_a_non_web_url_or_uses_aliases_is_refused_beside_the_form(app, admin, shop):
    refused = _upload(admin, shop, "peek.yaml", "name: Peek\nsteps:\n- goto: file:///etc/passwd\n")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "step 1 (goto): &#34;url&#34; must be an http(s) URL or a path on the base URL" in html
    test_id = add_test(app, shop)
    edit = admin.post(
        f"/projects/{shop}/tests/{test_id}", {"source": "name: Home\nsteps:\n- goto: ' chrome://version'\n"}
    )
    assert edit.status_code == 400 and "(got a &#34;chrome:&#34; URL)" in edit.get_data(as_text=True)
    bomb = "name: Home\nsteps:\n- &a {goto: /}\n- *a\n"
    aliased = admin.post(f"/projects/{shop}/tests/{test_id}", {"source": bomb})
    assert aliased.status_code == 400 and "aliases (*name) are not supported" in aliased.get_data(
        as_text=True
    )


def test_review_queue_approves_rejects_and_bulk_approves(app, admin, shop):
    ids = [add_test(app, shop, name=f"Draft {n}", approve=False) for n in range(3)]
    html = admin.html(f"/projects/{shop}/review")
    assert all(i in html for i in ids) and "goto /" in html and "title contains &#34;OK&#34;" in html
    admin.post(f"/projects/{shop}/review", {"decision": f"reject:{ids[0]}"})
    admin.post(f"/projects/{shop}/review", {"decision": "approve", "tests": [ids[1], ids[2]]})
    with app.app_context():
        project = projects.get(shop)
        assert [testcases.get(project, i).review_status for i in ids] == ["rejected", "approved", "approved"]
    assert "Nothing to review" in admin.html(f"/projects/{shop}/review")
    assert admin.post(f"/projects/{shop}/review", {"decision": "approve:TST-999"}).status_code == 404


def test_test_page_edits_yaml_and_shows_history(app, admin, shop):
    test_id = add_test(app, shop)
    finished_run(
        app,
        shop,
        results=[
            {
                "test_id": int(test_id[4:]),
                "test_name": "Home",
                "status": "failed",
                "failing_step": 2,
                "error": "title was Nope",
            }
        ],
    )
    html = admin.html(f"/projects/{shop}/tests/{test_id}")
    assert "title was Nope" in html and "- goto: /" not in html and "action: goto" in html
    bad = admin.post(
        f"/projects/{shop}/tests/{test_id}",
        {"source": "name: Home\nsteps:\n- action: goto\n  url: /\n- action: click\n"},
    )
    assert bad.status_code == 400 and "step 2 (click): missing field" in bad.get_data(as_text=True)
    assert "invalid YAML" in admin.post(f"/projects/{shop}/tests/{test_id}", {"source": "a: ["}).get_data(
        as_text=True
    )
    good = admin.post(
        f"/projects/{shop}/tests/{test_id}",
        {"source": "name: Home page\ntags: [smoke]\nsteps:\n- goto: /home\n"},
    )
    assert good.status_code == 302
    with app.app_context():
        test = testcases.get(projects.get(shop), test_id)
        assert test.name == "Home page" and test.review_status == "draft" and test.tags == ["smoke"]
    admin.post(f"/projects/{shop}/tests/{test_id}/delete")
    assert admin.get(f"/projects/{shop}/tests/{test_id}").status_code == 404


# -- automation tab ----------------------------------------------------------------------------------


def test_token_plaintext_is_shown_once(app, admin, shop):
    response = admin.post(f"/projects/{shop}/tokens", {"label": "github", "expiresInDays": "30"})
    assert response.status_code == 302
    first = admin.html(f"/projects/{shop}/automation")
    plaintext = re.search(r'id="token-plaintext" readonly value="(sentri_[0-9A-Za-z]+)"', first).group(1)
    assert tokens.is_well_formed(plaintext) and "data-show-on-load" in first
    again = admin.html(f"/projects/{shop}/automation")
    assert plaintext not in again and "token-dialog" not in again
    assert plaintext[:13] in again and "github" in again  # the listing keeps only the prefix
    assert "sentri_" not in response.headers.get("Set-Cookie", "")
    bad = admin.post(f"/projects/{shop}/tokens", {"label": "x", "expiresInDays": "0"})
    assert bad.status_code == 400 and 'id="token-expiresInDays-error"' in bad.get_data(as_text=True)
    with app.app_context():
        token_id = tokens.list_for(projects.get(shop))[0].public_id
    assert admin.post(f"/projects/{shop}/tokens/{token_id}/revoke").status_code == 302
    with app.app_context():
        assert tokens.list_for(projects.get(shop)) == []


def test_ci_snippets_use_the_public_url_and_a_jq_check_that_fails_on_false(app, admin, shop):
    html = admin.html(f"/projects/{shop}/automation")
    assert f"http://localhost/api/v1/projects/{shop}/trigger" in html
    assert "${{ secrets.SENTRI_TOKEN }}" in html and "$SENTRI_TOKEN" in html
    assert "if . == null then &#34;null&#34; else tostring end" in html
    assert "// &#34;null&#34;" not in html
    override(app, SENTRI_PUBLIC_URL="https://sentri.example.com")
    assert f"https://sentri.example.com/api/v1/projects/{shop}/trigger" in admin.html(
        f"/projects/{shop}/automation"
    )


def test_ci_snippets_send_the_branch_keep_the_junit_file_and_fold_per_ci_system(admin, shop):
    import html as html_module

    import yaml

    page = admin.html(f"/projects/{shop}/automation")
    assert '<details class="snippet" id="snippet-github-box">' in page and 'id="snippet-gitlab-box"' in page
    github = yaml.safe_load(
        html_module.unescape(
            re.search(r'<pre id="snippet-github"[^>]*><code>(.*?)</code>', page, re.S).group(1)
        )
    )
    steps = github["jobs"]["sentri"]["steps"]
    assert (
        steps[0]["env"]["BRANCH"] == "${{ github.head_ref || github.ref_name }}"
        and "branch: $branch" in steps[0]["run"]
    )
    assert '"$status_url/junit.xml" -o sentri-junit.xml' in steps[1]["run"]
    assert steps[-1]["uses"].startswith("actions/upload-artifact@") and steps[-1]["if"] == "always()"
    gitlab = yaml.safe_load(
        html_module.unescape(
            re.search(r'<pre id="snippet-gitlab"[^>]*><code>(.*?)</code>', page, re.S).group(1)
        )
    )
    assert gitlab["sentri"]["artifacts"] == {"when": "always", "reports": {"junit": "sentri-junit.xml"}}
    script = gitlab["sentri"]["script"][0]
    assert '--arg branch "$CI_COMMIT_REF_NAME"' in script and '-d "$BODY"' in script


def test_gates_and_budgets_forms(app, admin, shop):
    bad = admin.post(
        f"/projects/{shop}/quality-gates", {"minPassRate": "120", "maxFlakyPct": "", "maxFailures": "2"}
    )
    html = bad.get_data(as_text=True)
    assert (
        bad.status_code == 400
        and 'id="gates-minPassRate-error"' in html
        and "must be a number from 0 to 100" in html
    )
    assert admin.post(f"/projects/{shop}/quality-gates", {"maxFailures": "1.5"}).status_code == 400
    ok = admin.post(
        f"/projects/{shop}/quality-gates", {"minPassRate": "95.5", "maxFlakyPct": "", "maxFailures": "0"}
    )
    assert ok.status_code == 302
    assert admin.post(f"/projects/{shop}/web-vitals-budgets", {"cls": "2"}).status_code == 400
    assert (
        admin.post(f"/projects/{shop}/web-vitals-budgets", {"lcp": "2500", "cls": "0.1"}).status_code == 302
    )
    with app.app_context():
        project = projects.get(shop)
        assert project.quality_gates == {"minPassRate": 95.5, "maxFailures": 0}
        assert project.vitals_budgets == {"lcp": 2500, "cls": 0.1}
    assert 'value="95.5"' in admin.html(f"/projects/{shop}/gates")


# -- settings and users --------------------------------------------------------------------------------


def test_settings_rename_and_delete_with_typed_name(app, admin, shop):
    bad = admin.post(f"/projects/{shop}/settings", {"name": "Shop 2", "baseUrl": "nope"})
    assert bad.status_code == 400 and 'id="settings-baseUrl-error"' in bad.get_data(as_text=True)
    assert (
        admin.post(
            f"/projects/{shop}/settings", {"name": "Shop 2", "baseUrl": "https://shop.example"}
        ).status_code
        == 302
    )
    wrong = admin.post(f"/projects/{shop}/delete", {"confirm": "Shop"})
    assert wrong.status_code == 400 and "Type the project" in wrong.get_data(as_text=True)
    assert admin.post(f"/projects/{shop}/delete", {"confirm": "Shop 2"}).status_code == 302
    assert admin.get(f"/projects/{shop}/settings").status_code == 404


def test_settings_edit_allowed_origins_for_admins_only(app, admin, member, shop):
    form = admin.html(f"/projects/{shop}/settings")
    assert 'name="allowedOrigins"' in form and "readonly" not in form.split('name="allowedOrigins"')[1][:200]
    bad = admin.post(
        f"/projects/{shop}/settings",
        {
            "name": "Shop",
            "baseUrl": "http://127.0.0.1:9/shop",
            "allowedOrigins": "https://ok.example.com\nftp://nope",
        },
    )
    assert bad.status_code == 400 and 'id="settings-allowedOrigins-error"' in bad.get_data(as_text=True)
    good = admin.post(
        f"/projects/{shop}/settings",
        {
            "name": "Shop",
            "baseUrl": "http://127.0.0.1:9/shop",
            "allowedOrigins": "https://staging.example.com\r\n\r\nhttps://pr-*.preview.example.com\r\n",
        },
    )
    assert good.status_code == 302
    with app.app_context():
        assert projects.get(shop).allowed_origins == [
            "https://staging.example.com",
            "https://pr-*.preview.example.com",
        ]
    assert "readonly" in member.html(f"/projects/{shop}/settings").split('name="allowedOrigins"')[1][:200]
    # A member's save keeps the name change and leaves the origins alone, whatever the form sends.
    saved = member.post(
        f"/projects/{shop}/settings",
        {
            "name": "Shop 3",
            "baseUrl": "http://127.0.0.1:9/shop",
            "allowedOrigins": "https://evil.example.com",
        },
    )
    assert saved.status_code == 302
    with app.app_context():
        assert projects.get(shop).allowed_origins == [
            "https://staging.example.com",
            "https://pr-*.preview.example.com",
        ]
        assert projects.get(shop).name == "Shop 3"


def test_users_page_creates_changes_role_and_deactivates(app, admin, member):
    html = admin.html("/users")
    assert "member@example.com" in html and "admin@example.com" in html
    bad = admin.post("/users", {"email": "new@example.com", "password": "short", "role": "member"})
    assert bad.status_code == 400 and 'id="new-password-error"' in bad.get_data(as_text=True)
    duplicate = admin.post("/users", {"email": "member@example.com", "password": PASSWORD, "role": "member"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.get_data(as_text=True)
    assert (
        admin.post("/users", {"email": "new@example.com", "password": PASSWORD, "role": "admin"}).status_code
        == 302
    )
    with app.app_context():
        target = users.authenticate("member@example.com", PASSWORD).public_id
    admin.post(f"/users/{target}", {"action": "role", "role": "admin"})
    with app.app_context():
        assert users.get_user(target).role == "admin"
    admin.post(f"/users/{target}", {"action": "deactivate"})
    with app.app_context():
        assert users.get_user(target).active is False
    assert member.get("/projects").status_code == 302  # the deactivated user's session is over


def test_the_last_admin_cannot_be_demoted_or_deactivated(app, admin):
    me = "USR-1"
    demote = admin.post(f"/users/{me}", {"action": "role", "role": "member"}, follow_redirects=True)
    assert "last active admin" in demote.get_data(as_text=True)
    admin.post(f"/users/{me}", {"action": "deactivate"})
    with app.app_context():
        assert users.get_user(me).is_admin and users.get_user(me).active


@pytest.mark.skipif(not __import__("shutil").which("jq"), reason="needs jq")
def test_the_gitlab_snippet_fails_the_job_on_a_failed_gate_or_budget(admin, shop):
    import html as html_module
    import subprocess

    page = admin.html(f"/projects/{shop}/automation")
    snippet = html_module.unescape(
        re.search(r'<pre id="snippet-gitlab"[^>]*><code>(.*?)</code>', page, re.S).group(1)
    )
    checks = snippet.split('[ "$STATUS" = "completed" ] || exit 1', 1)[1].split("\n  artifacts:", 1)[0]
    script = "\n".join(line.removeprefix("      ") for line in checks.splitlines())

    def job(payload: dict) -> int:
        return subprocess.run(
            ["bash", "-c", script],
            env={"PAYLOAD": json.dumps(payload), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            timeout=10,
        ).returncode

    failed_gate = {"passed": False, "violations": [{"rule": "minPassRate", "threshold": 95, "actual": 90}]}
    failed_budget = {
        "passed": False,
        "violations": [
            {"rule": "lcp", "threshold": 2500, "actual": 3100, "testId": "TST-1", "testName": "Home"}
        ],
    }
    assert job({"gateResult": None, "webVitalsResult": None}) == 0
    assert job({"gateResult": {"passed": True, "violations": []}, "webVitalsResult": None}) == 0
    assert job({"gateResult": failed_gate, "webVitalsResult": None}) == 1
    assert job({"gateResult": None, "webVitalsResult": failed_budget}) == 1


def test_a_new_token_is_never_shown_on_another_projects_page(app, admin, shop):
    with app.app_context():
        other = projects.create("Other", "http://127.0.0.1:9").public_id
    admin.post(f"/projects/{shop}/tokens", {"label": "ci"})
    elsewhere = admin.html(f"/projects/{other}/automation")
    assert "token-plaintext" not in elsewhere
    assert "token-plaintext" not in admin.html(f"/projects/{shop}/automation")  # seen nowhere: burnt


def test_a_big_run_shows_its_results_a_hundred_at_a_time(app, admin, shop):
    add_test(app, shop)
    run_id = finished_run(
        app, shop, results=[{"test_name": f"T{n}", "status": "passed"} for n in range(1, 151)]
    )
    first = admin.html(f"/runs/{run_id}")
    assert "<td>T100</td>" in first and "<td>T101</td>" not in first and "Page 1 of 2 (150 in all)" in first
    assert f'href="/runs/{run_id}?page=2"' in first
    second = admin.html(f"/runs/{run_id}?page=2")
    assert "<td>T101</td>" in second and "<td>T100</td>" not in second
    report = admin.get(f"/runs/{run_id}/report?page=2").get_data(as_text=True)
    assert "<td>T150</td>" in report and f'href="/runs/{run_id}?page=1"' in report


def test_the_token_cap_is_shown_above_the_form(app, admin, shop):
    override(app, SENTRI_MAX_TOKENS_PER_PROJECT=1)
    assert admin.post(f"/projects/{shop}/tokens", {"label": "one"}).status_code == 302
    refused = admin.post(f"/projects/{shop}/tokens", {"label": "two"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "(SENTRI_MAX_TOKENS_PER_PROJECT=1); revoke one first." in html
