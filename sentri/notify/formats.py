"""An alert (summary.py) in each receiver's own format, within each one's documented limits:

slack     an incoming webhook's Block Kit message: a header block (150 characters), section blocks (fields,
          mrkdwn text within 3000), an actions block with a button to the run; `text` is the notification
          fallback. &, < and > are escaped, so no name can mention @channel or forge a link.
teams     a Workflows webhook ("When a Teams webhook request is received"): a message whose one attachment
          is an Adaptive Card (1.4): TextBlocks, a FactSet, and an Action.OpenUrl to the run.
discord   an execute-webhook body with one embed (title 256, description 4096, at most 25 fields of
          1024, 6000 in all) and allowed_mentions empty, so a test name cannot ping anyone.
webhook   the summary itself as JSON.
email     a subject, a plain-text body and the same in HTML (escaped), sent as multipart/alternative.
"""

from __future__ import annotations

import html
from typing import Any

from ..github.report import clip

COLORS = {"passed": 0x2EA043, "failed": 0xD1242F, "aborted": 0x6E7781}
ICONS = {"passed": "✅", "failed": "❌", "aborted": "⏹"}


def _icon(summary: dict) -> str:
    return ICONS.get(summary["verdict"], "•")


def counts(summary: dict) -> str:
    run = summary["run"]
    text = f"{run['passed']} passed, {run['failed']} failed, {run['skipped']} skipped of {run['total']}"
    extra = [f"{run[k]} {k}" for k in ("flaky", "quarantined") if run.get(k)]
    if run.get("durationSeconds") is not None:
        extra.append(f"{run['durationSeconds']:g} s")
    return text + (f" ({', '.join(extra)})" if extra else "")


def failure_lines(summary: dict) -> list[str]:
    lines = []
    for failure in summary["failures"]:
        where = f" (step {failure['step']})" if failure.get("step") else ""
        name = failure.get("testName") or failure.get("pageUrl") or "?"
        lines.append(f"{name}{where}: {failure['error']}")
    return lines


def _slack_escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(summary: dict) -> dict[str, Any]:
    headline = f"{_icon(summary)} {summary['headline']}"
    run = summary["run"]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(headline, 150), "emoji": True}},
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": clip(f"*Project*\n{_slack_escape(summary['project']['name'])}", 2000),
                },
                {
                    "type": "mrkdwn",
                    "text": clip(f"*Source*\n{_slack_escape(summary['source']['text'])}", 2000),
                },
                {"type": "mrkdwn", "text": f"*Verdict*\n{summary['verdict']}"},
                {"type": "mrkdwn", "text": f"*Tests*\n{counts(summary)}"},
            ],
        },
    ]
    if run.get("error"):
        blocks.append(_slack_section("Run error", [run["error"]]))
    if summary["failures"]:
        blocks.append(_slack_section("Failing tests", failure_lines(summary)))
    if summary["violations"]:
        blocks.append(_slack_section("Violations", summary["violations"]))
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": clip(f"Open {run['id']}", 75)},
                    "url": run["url"],
                    "action_id": "open_run",
                }
            ],
        }
    )
    return {"text": clip(headline, 3000), "blocks": blocks}


def _slack_section(title: str, lines: list[str]) -> dict[str, Any]:
    body = "\n".join(f"• {_slack_escape(clip(line, 500))}" for line in lines)
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(f"*{title}*\n{body}", 3000)}}


def teams(summary: dict) -> dict[str, Any]:
    run = summary["run"]
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"{_icon(summary)} {summary['headline']}",
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": {"passed": "Good", "failed": "Attention"}.get(summary["verdict"], "Default"),
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": "Project", "value": summary["project"]["name"]},
                {"title": "Source", "value": summary["source"]["text"]},
                {"title": "Verdict", "value": summary["verdict"]},
                {"title": "Tests", "value": counts(summary)},
            ],
        },
    ]
    for title, lines in (
        ("Run error", [run["error"]] if run.get("error") else []),
        ("Failing tests", failure_lines(summary)),
        ("Violations", summary["violations"]),
    ):
        if lines:
            body.append(
                {"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": True, "spacing": "Medium"}
            )
            body.append(
                {
                    "type": "TextBlock",
                    "text": "\n".join(f"- {clip(line, 500)}" for line in lines),
                    "wrap": True,
                }
            )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": f"Open {run['id']}", "url": run["url"]}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def discord(summary: dict) -> dict[str, Any]:
    run = summary["run"]
    fields = [
        {"name": "Project", "value": clip(summary["project"]["name"], 1024), "inline": True},
        {"name": "Verdict", "value": summary["verdict"], "inline": True},
        {"name": "Tests", "value": clip(counts(summary), 1024), "inline": False},
    ]
    for title, lines in (
        ("Run error", [run["error"]] if run.get("error") else []),
        ("Failing tests", failure_lines(summary)),
        ("Violations", summary["violations"]),
    ):
        if lines:
            fields.append(
                {
                    "name": title,
                    "value": clip("\n".join(f"• {clip(line, 300)}" for line in lines), 1024),
                    "inline": False,
                }
            )
    embed = {
        "title": clip(f"{_icon(summary)} {summary['headline']}", 256),
        "url": run["url"],
        "description": clip(summary["source"]["text"], 1000),
        "color": COLORS.get(summary["verdict"], 0x6E7781),
        "fields": fields[:25],
        "footer": {"text": f"Sentri · {run['id']}"},
    }
    if run.get("finishedAt"):
        embed["timestamp"] = run["finishedAt"]
    return {"username": "Sentri", "allowed_mentions": {"parse": []}, "embeds": [embed]}


def webhook(summary: dict) -> dict[str, Any]:
    return {"sentri": 1, **summary}


def email(summary: dict) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the alert."""
    run = summary["run"]
    subject = clip(f"[Sentri] {_icon(summary)} {summary['headline']}", 200)
    sections = [
        ("Run error", [run["error"]] if run.get("error") else []),
        ("Failing tests", failure_lines(summary)),
        ("Violations", summary["violations"]),
    ]
    facts = [
        ("Project", summary["project"]["name"]),
        ("Source", summary["source"]["text"]),
        ("Verdict", summary["verdict"]),
        ("Tests", counts(summary)),
    ]
    text = [summary["headline"], ""] + [f"{name}: {value}" for name, value in facts]
    for title, lines in sections:
        if lines:
            text += ["", f"{title}:"] + [f"  - {line}" for line in lines]
    text += ["", f"Run page: {run['url']}", ""]
    e = html.escape
    markup = [f"<h2>{e(summary['headline'])}</h2>", "<table>"]
    markup += [f'<tr><th align="left">{e(name)}</th><td>{e(str(value))}</td></tr>' for name, value in facts]
    markup.append("</table>")
    for title, lines in sections:
        if lines:
            markup += [f"<h3>{e(title)}</h3>", "<ul>"] + [f"<li>{e(line)}</li>" for line in lines] + ["</ul>"]
    markup.append(f'<p><a href="{e(run["url"])}">Open {e(run["id"])}</a></p>')
    return subject, "\n".join(text), "\n".join(markup)


PAYLOADS = {"slack": slack, "teams": teams, "discord": discord, "webhook": webhook}
