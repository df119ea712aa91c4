"""JUnit XML stays a valid document whatever text a page or a project name carries."""

from __future__ import annotations

import pytest

from sentri import projects, testcases, tokens
from sentri.reports import junit


def test_xml_safe_drops_exactly_what_xml_1_0_cannot_hold():
    kept = "tab\there\nline\r\n é 中 \ud7ff \ue000 \ufffd 😀"
    assert junit.xml_safe(kept) == kept
    dirty = "a\x00b\x01c\x08d\x0be\x0cf\x1fg\ud800h\udfffi\ufffej\uffffk"
    assert junit.xml_safe(dirty) == "abcdefghijk"
    assert junit.xml_safe(None) is None and junit.xml_safe("") == ""


@pytest.mark.browser
def test_page_text_with_control_characters_gives_junit_that_validates(app, client, site, junit_xsd):
    from lxml import etree

    with app.app_context():
        # A control character in the project's name reaches attributes (classname, testsuite name).
        project = projects.create("Shop\x02", site)
        test = testcases.create(
            project,
            {
                "name": "heading",
                "steps": [
                    {"goto": "/control"},
                    {"expect_text": {"css": "h1"}, "text": "OK", "timeout": 300},
                ],
            },
        )
        testcases.review(test, "approve")
        _, token = tokens.create(project)
        project_id = project.public_id
    headers = {"Authorization": f"Bearer {token}"}
    run = client.post(f"/api/v1/projects/{project_id}/trigger", json={"wait": True}, headers=headers)
    assert run.status_code == 422, run.get_json()
    # The failure really carries the page's text, control character and all: that is what JUnit must survive.
    with app.app_context():
        from sentri.extensions import db
        from sentri.models import Result

        assert "Bell\x01here" in db.session.query(Result).one().error

    response = client.get(f"/api/v1/runs/{run.get_json()['runId']}/junit.xml", headers=headers)
    assert response.status_code == 200
    document = etree.fromstring(response.data)  # raises on an XML-illegal character
    etree.XMLSchema(etree.parse(str(junit_xsd))).assertValid(document)
    case = document.find("testsuite/testcase")
    assert case.get("classname") == "Shop" and document.find("testsuite").get("name") == "Shop"
    assert "Bellhere" in case.find("failure").text
