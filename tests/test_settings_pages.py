"""The Settings tab manages what the API manages: environments (secrets write-only, shown as names masked),
test-data sets, suites and the heal switch; a refused save shows each problem beside its field and keeps
what was typed (but a secret's value); a member does what the API lets a member do, and no more."""

from __future__ import annotations

import logging

from sentri import environments, projects, suites, vault
from tests.test_ui_pages import add_test

SECRET = "s3cr3t-Value-9f2"
OTHER_SECRET = "tok-Value-77aa"


def _section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def _environment(app, shop):
    with app.app_context():
        [environment] = environments.list_environments(projects.get(shop))
        secrets = {name: vault.decrypt(token, name) for name, token in environment.secrets.items()}
        return environment.public_id, environment.name, environment.base_url, environment.variables, secrets


def test_an_environment_is_created_edited_and_deleted_and_its_secrets_are_never_shown(
    app, admin, shop, caplog
):
    caplog.set_level(logging.DEBUG)
    created = admin.post(
        f"/projects/{shop}/environments",
        {
            "name": "Staging",
            "baseUrl": "http://127.0.0.1:9/staging",
            "variables": "USER=alice\r\n\r\nLANG = en\r\n",
            "secretName": ["PASSWORD", ""],
            "secretValue": [SECRET, ""],
        },
    )
    assert created.status_code == 302 and created.headers["Location"].endswith(
        f"/projects/{shop}/settings#environments"
    )
    env_id, name, base_url, variables, secrets = _environment(app, shop)
    assert (name, base_url, variables, secrets) == (
        "Staging",
        "http://127.0.0.1:9/staging",
        {"USER": "alice", "LANG": " en"},
        {"PASSWORD": SECRET},
    )
    html = admin.html(f"/projects/{shop}/settings")
    section = _section(html, "environments")
    assert f"Environment {env_id} (Staging) created." in section
    assert "<code>USER=alice</code>" in section and "<code>PASSWORD=••••</code>" in section
    assert SECRET not in html

    edited = admin.post(
        f"/projects/{shop}/environments/{env_id}",
        {
            "name": "Staging 2",
            "baseUrl": "",
            "variables": "USER=bob",
            "secretName": ["TOKEN", ""],
            "secretValue": [OTHER_SECRET, ""],
        },
    )
    assert edited.status_code == 302
    assert _environment(app, shop)[1:] == (
        "Staging 2",
        None,
        {"USER": "bob"},
        {"PASSWORD": SECRET, "TOKEN": OTHER_SECRET},
    )
    removed = admin.post(
        f"/projects/{shop}/environments/{env_id}",
        {"name": "Staging 2", "variables": "USER=bob", "removeSecret": "PASSWORD"},
    )
    assert removed.status_code == 302 and _environment(app, shop)[4] == {"TOKEN": OTHER_SECRET}
    html = admin.html(f"/projects/{shop}/settings")
    assert (
        "TOKEN=••••" in html and "PASSWORD=" not in html and OTHER_SECRET not in html and SECRET not in html
    )

    deleted = admin.post(f"/projects/{shop}/environments/{env_id}/delete")
    assert deleted.status_code == 302
    with app.app_context():
        assert environments.list_environments(projects.get(shop)) == []
    assert SECRET not in caplog.text and OTHER_SECRET not in caplog.text


def test_a_refused_environment_shows_each_problem_beside_its_field_and_keeps_all_but_the_secret(admin, shop):
    refused = admin.post(
        f"/projects/{shop}/environments",
        {
            "name": "QA",
            "baseUrl": "ftp://nope",
            "variables": "GOOD=1\nnot a line\nbad name=2",
            "secretName": ["API_KEY", "", "LONELY"],
            "secretValue": [SECRET, "orphan-Value-1", ""],
        },
    )
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert SECRET not in html and "orphan-Value-1" not in html
    section = _section(html, "environments")
    banner = section[section.index('class="error-banner"') :]
    assert "3 fields need a change" in banner
    links = [banner.index(f'href="#environment-{field}"') for field in ("baseUrl", "variables", "secrets")]
    assert links == sorted(links)  # in the order of the form's fields
    assert 'id="environment-baseUrl-error">must be an absolute http:// or https:// URL' in section
    assert "line 2 is not NAME=value" in section and "secret 2 has a value but no name" in section
    assert "LONELY: type its value" in section
    assert 'value="QA"' in section and 'value="ftp://nope"' in section and "GOOD=1\nnot a line" in section
    assert 'value="API_KEY"' in section
    # A bad name is the list's problem, named; the other sections show no error.
    bad_name = admin.post(f"/projects/{shop}/environments", {"name": "QA", "variables": "bad name=2"})
    assert bad_name.status_code == 400
    assert "&#39;bad name&#39; is not a variable name" in _section(
        bad_name.get_data(as_text=True), "environments"
    )
    assert "field-error" not in _section(bad_name.get_data(as_text=True), "suites")


def test_a_refused_edit_opens_that_environment_with_what_was_typed(app, admin, shop):
    assert (
        admin.post(
            f"/projects/{shop}/environments", {"name": "Prod", "secretName": "KEY", "secretValue": SECRET}
        ).status_code
        == 302
    )
    env_id = _environment(app, shop)[0]
    refused = admin.post(
        f"/projects/{shop}/environments/{env_id}",
        {"name": "", "variables": "A=1", "secretName": "KEY", "secretValue": OTHER_SECRET},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and SECRET not in html and OTHER_SECRET not in html
    edit = html[
        html.index(f'id="edit-{env_id}"') : html.index("</details>", html.index(f'id="edit-{env_id}"'))
    ]
    assert " open>" in edit.split("\n", 1)[0] and f'id="{env_id}-name-error"' in edit and "A=1" in edit
    assert _environment(app, shop)[1:] == ("Prod", None, {}, {"KEY": SECRET})  # nothing saved


def test_a_test_data_set_is_created_edited_and_deleted(app, admin, shop):
    refused = admin.post(
        f"/projects/{shop}/test-data-sets", {"name": " ", "variables": "EMAIL=a@example.com\n=x"}
    )
    section = _section(refused.get_data(as_text=True), "test-data-sets")
    assert refused.status_code == 400 and "2 fields need a change" in section
    assert (
        'id="data-set-name-error"' in section
        and 'id="data-set-variables-error">line 2 is not NAME=value' in section
    )
    assert "EMAIL=a@example.com" in section
    assert (
        admin.post(
            f"/projects/{shop}/test-data-sets", {"name": "Users", "variables": "EMAIL=a@example.com"}
        ).status_code
        == 302
    )
    with app.app_context():
        [data_set] = environments.list_data_sets(projects.get(shop))
        data_id = data_set.public_id
    assert "<code>EMAIL=a@example.com</code>" in _section(
        admin.html(f"/projects/{shop}/settings"), "test-data-sets"
    )
    assert (
        admin.post(
            f"/projects/{shop}/test-data-sets/{data_id}",
            {"name": "People", "variables": "EMAIL=b@example.com"},
        ).status_code
        == 302
    )
    with app.app_context():
        data_set = environments.get_data_set(projects.get(shop), data_id)
        assert (data_set.name, data_set.variables) == ("People", {"EMAIL": "b@example.com"})
    assert admin.post(f"/projects/{shop}/test-data-sets/{data_id}/delete").status_code == 302
    with app.app_context():
        assert environments.list_data_sets(projects.get(shop)) == []


def test_a_suite_is_created_renamed_given_and_relieved_of_tests_and_deleted(app, admin, shop):
    home, cart = add_test(app, shop, "Home"), add_test(app, shop, "Cart")
    refused = admin.post(f"/projects/{shop}/suites", {"name": "", "testIds": [home, "TST-999"]})
    section = _section(refused.get_data(as_text=True), "suites")
    assert refused.status_code == 400 and 'id="suite-name-error"' in section
    assert 'id="suite-testIds-error">not tests of' in section and f'value="{home}" checked' in section
    assert admin.post(f"/projects/{shop}/suites", {"name": "Smoke", "testIds": [home]}).status_code == 302
    with app.app_context():
        [suite] = suites.list_for(projects.get(shop))
        suite_id = suite.public_id
    section = _section(admin.html(f"/projects/{shop}/settings"), "suites")
    assert f"Suite {suite_id} (Smoke) created with 1 tests." in section and f">{home}</a> Home" in section
    saved = admin.post(f"/projects/{shop}/suites/{suite_id}", {"name": "Checkout", "testIds": [cart]})
    assert saved.status_code == 302
    with app.app_context():
        suite = suites.get(projects.get(shop), suite_id)
        assert suite.name == "Checkout" and [t.public_id for t in suite.tests] == [cart]
    assert admin.post(f"/projects/{shop}/suites/{suite_id}/delete").status_code == 302
    with app.app_context():
        assert suites.list_for(projects.get(shop)) == []


def test_an_admin_turns_healing_off_and_on(app, admin, shop):
    assert "Heal locators (now on)" in _section(admin.html(f"/projects/{shop}/settings"), "healing")
    off = admin.post(f"/projects/{shop}/heal-locators", {"healLocators": "off"})
    assert off.status_code == 302 and off.headers["Location"].endswith("/settings#healing")
    with app.app_context():
        assert projects.get(shop).heal_locators is False
    assert "Healing locators turned off" in _section(admin.html(f"/projects/{shop}/settings"), "healing")
    assert admin.post(f"/projects/{shop}/heal-locators", {"healLocators": "maybe"}).status_code == 400
    assert admin.post(f"/projects/{shop}/heal-locators", {"healLocators": "on"}).status_code == 302
    with app.app_context():
        assert projects.get(shop).heal_locators is True


def test_a_member_sees_no_delete_and_is_refused_what_only_an_admin_may(app, admin, member, shop):
    home = add_test(app, shop)
    admin.post(f"/projects/{shop}/environments", {"name": "Prod", "secretName": "KEY", "secretValue": SECRET})
    admin.post(f"/projects/{shop}/test-data-sets", {"name": "Users"})
    admin.post(f"/projects/{shop}/suites", {"name": "Smoke", "testIds": [home]})
    env_id = _environment(app, shop)[0]
    html = member.html(f"/projects/{shop}/settings")
    assert SECRET not in html and "KEY=••••" in html
    assert "/delete" not in html.replace(f"/projects/{shop}/delete", "") and "Delete" not in html
    assert 'name="removeSecret" value="KEY" disabled' in html
    healing = _section(html, "healing")
    assert "Only admins change it." in healing and "Save healing" not in healing and "disabled" in healing
    for path in (f"environments/{env_id}/delete", "test-data-sets/DAT-1/delete", "suites/SUI-1/delete"):
        assert member.post(f"/projects/{shop}/{path}").status_code == 403, path
    assert (
        member.post(
            f"/projects/{shop}/environments/{env_id}", {"name": "Prod", "removeSecret": "KEY"}
        ).status_code
        == 403
    )
    assert member.post(f"/projects/{shop}/heal-locators", {"healLocators": "off"}).status_code == 403
    with app.app_context():
        project = projects.get(shop)
        assert project.heal_locators is True and len(suites.list_for(project)) == 1
        assert len(environments.list_data_sets(project)) == 1
    assert _environment(app, shop)[4] == {"KEY": SECRET}


def test_every_settings_form_address_answers_a_get_with_its_section(admin, shop):
    for path, section in (
        ("environments", "environments"),
        ("environments/ENV-1", "environments"),
        ("test-data-sets/DAT-1/delete", "test-data-sets"),
        ("suites", "suites"),
        ("suites/SUI-1", "suites"),
        ("heal-locators", "healing"),
    ):
        answer = admin.get(f"/projects/{shop}/{path}")
        assert answer.status_code == 302, path
        assert answer.headers["Location"].endswith(f"/projects/{shop}/settings#{section}"), path


def test_the_project_form_edits_the_default_variables(app, admin, shop):
    form = {"name": "Shop", "baseUrl": "http://127.0.0.1:9/shop"}
    refused = admin.post(f"/projects/{shop}/settings", {**form, "name": "", "variables": "LANG=en\noops"})
    section = _section(refused.get_data(as_text=True), "project")
    assert refused.status_code == 400 and "2 fields need a change" in section
    assert 'id="settings-variables-error">line 2 is not NAME=value' in section and "LANG=en\noops" in section
    assert (
        admin.post(f"/projects/{shop}/settings", {**form, "variables": "LANG=en\nCURRENCY=EUR"}).status_code
        == 302
    )
    with app.app_context():
        assert projects.get(shop).variables == {"LANG": "en", "CURRENCY": "EUR"}
    assert "LANG=en\nCURRENCY=EUR</textarea>" in admin.html(f"/projects/{shop}/settings")
    assert admin.post(f"/projects/{shop}/settings", {**form, "variables": ""}).status_code == 302
    with app.app_context():
        assert projects.get(shop).variables is None
